/**
 * Named wire types of the API, all derived from the generated OpenAPI types (./generated/api.ts): a route's
 * body and answer are looked up by path and method, so a contract change reaches the client at the next
 * regeneration and nowhere else.
 */
import type { components, paths, ERROR_CODES, STREAM_ERROR_CODES } from './generated/api.js';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Operation<P extends keyof paths, M extends keyof paths[P]> = paths[P][M];

/** The JSON body a route takes. */
export type RequestBody<P extends keyof paths, M extends keyof paths[P]> =
  Operation<P, M> extends { requestBody?: infer B } ? Json<NonNullable<B>> : never;
/** The JSON answer of a route (its 200 or 201). */
export type ResponseBody<P extends keyof paths, M extends keyof paths[P]> =
  Operation<P, M> extends { responses: infer R }
    ? R extends { 200: infer A }
      ? Json<A>
      : R extends { 201: infer A }
        ? Json<A>
        : never
    : never;
/** The query parameters of a route. */
export type Query<P extends keyof paths, M extends keyof paths[P]> =
  Operation<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

type Schemas = components['schemas'];
export type Run = Schemas['Run'];
export type RunEvent = Schemas['RunEvent'];
export type Artifact = Schemas['Artifact'];
export type Template = Schemas['Template'];
export type Step = Schemas['Step'];
export type Lane = Schemas['Lane'];
export type CreateRun = Schemas['CreateRun'];
export type RunStatus = Run['status'];
export type TemplateInput = RequestBody<'/v1/templates', 'post'>;
export type TemplateValidation = ResponseBody<'/v1/templates/validate', 'post'>;
export type RunDetail = ResponseBody<'/v1/runs/{id}', 'get'>;
export type RunList = ResponseBody<'/v1/runs', 'get'>;
export type ListRunsParams = Query<'/v1/runs', 'get'>;
export type EventsQuery = Query<'/v1/runs/{id}/events', 'get'>;
export type WorkerEvent = RequestBody<'/v1/runs/{id}/events', 'post'>['events'][number];
export type ClaimRequest = RequestBody<'/v1/runs/claim', 'post'>;
export type ArtifactWithUrl = ResponseBody<'/v1/artifacts/{id}', 'get'>;
export type ArtifactSearchQuery = Query<'/v1/artifacts', 'get'>;
export type ArtifactSearchList = ResponseBody<'/v1/artifacts', 'get'>;
export type Role = RequestBody<'/v1/tokens', 'post'>['role'];
/** A message the client sends on /v1/stream. */
export type StreamClientMessage = Schemas['StreamClientMessage'];
/** A message the server sends on /v1/stream. */
export type StreamServerMessage = Schemas['StreamServerMessage'];

/** An error code of an HTTP answer (see docs/errors.md). */
export type ErrorCode = keyof typeof ERROR_CODES;
/** An error code only the stream sends. */
export type StreamErrorCode = (typeof STREAM_ERROR_CODES)[number];
/** The statuses a run ends in. */
export const TERMINAL_STATUSES: readonly RunStatus[] = ['success', 'error', 'cancelled'];
export type { components, paths };
