export { createClient, type OcrClient, type Completion } from './client.js';
export { ApiError, isApiError, type ClientOptions, type RequestOptions } from './http.js';
export { type FollowOptions } from './follow.js';
export {
  Stream,
  type StreamOptions,
  type StreamEvent,
  type StreamStatus,
  type WebSocketFactory,
  type WebSocketLike,
} from './stream.js';
export { ERROR_CODES, STREAM_ERROR_CODES } from './generated/api.js';
export * from './types.js';
export {
  createAgentAdapter,
  templateToTool,
  toolToTemplate,
  toolName,
  secretParams,
  type RunbookAgentAdapter,
  type RunbookTool,
  type RunOutcome,
  type InvokeOptions,
  type JsonSchema,
} from './agent.js';
