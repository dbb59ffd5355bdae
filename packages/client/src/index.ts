export { createClient, type OcrClient, type ListRunsParams, type Completion } from './client.js';
export { ApiError, type ClientOptions, type RequestOptions } from './http.js';
export {
  Stream,
  type StreamOptions,
  type StreamEvent,
  type StreamStatus,
  type WebSocketFactory,
  type WebSocketLike,
} from './stream.js';
