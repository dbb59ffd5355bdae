import type { Static } from 'typebox';
import type {
  AppendEventsResponse,
  Artifact,
  ArtifactGrant,
  ArtifactInput,
  ArtifactList,
  ArtifactWithUrl,
  BatchResults,
  ClaimRequest,
  ClaimResponse,
  CreateArtifact,
  CreateRun,
  CreateSession,
  CreatedToken,
  CreateToken,
  EventList,
  HeartbeatResponse,
  LaneList,
  LaneMetrics,
  PreviewResponse,
  Run,
  RunDetail,
  RunList,
  Session,
  SessionList,
  SpecDoc,
  SpecDocList,
  SpecDocsResponse,
  StoreSpecDocs,
  Template,
  TemplateInput,
  TemplateValidation,
  TokenInfo,
  TokenList,
  UpdateLane,
  WhoAmI,
  WorkerEvent,
  WorkerList,
  RunError,
} from '@ocr/contracts';
import { createTransport, type ClientOptions } from './http.js';

type S<T> = T extends import('typebox').TSchema ? Static<T> : never;
export type ListRunsParams = {
  status?: string;
  lane?: string;
  template?: string;
  session_id?: string;
  created_after?: string;
  created_before?: string;
  q?: string;
  /** A JSON object the run's non-secret params must contain, e.g. `'{"env":"prod"}'`. */
  params?: string;
  limit?: number;
  cursor?: string;
};
export type Completion = {
  status: 'success' | 'error' | 'cancelled';
  error?: S<typeof RunError>;
  output?: unknown;
  events?: S<typeof WorkerEvent>[];
};

/**
 * The typed Ops Control Room client: every route of the API, for integrators, the worker, the CLI and the
 * console. Errors are thrown as `ApiError` with the API's `code`.
 */
export function createClient(options: ClientOptions) {
  const request = createTransport(options);
  const enc = encodeURIComponent;
  return {
    whoami: () => request<S<typeof WhoAmI>>('GET', '/v1/whoami'),
    runs: {
      create: (body: S<typeof CreateRun>, opts: { idempotencyKey?: string } = {}) =>
        request<{ run: S<typeof Run> }>('POST', '/v1/runs', {
          body,
          headers: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined,
        }),
      createBatch: (runs: S<typeof CreateRun>[], opts: { idempotencyKey?: string } = {}) =>
        request<{ runs: S<typeof Run>[] }>('POST', '/v1/runs/batch', {
          body: { runs },
          headers: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined,
        }),
      list: (query: ListRunsParams = {}) => request<S<typeof RunList>>('GET', '/v1/runs', { query }),
      get: (id: string) => request<S<typeof RunDetail>>('GET', `/v1/runs/${enc(id)}`),
      cancel: (id: string) => request<{ run: S<typeof Run> }>('POST', `/v1/runs/${enc(id)}/cancel`),
      retry: (id: string) => request<{ run: S<typeof Run> }>('POST', `/v1/runs/${enc(id)}/retry`),
      events: (id: string, query: { after_seq?: number; limit?: number; level?: string; q?: string } = {}) =>
        request<S<typeof EventList>>('GET', `/v1/runs/${enc(id)}/events`, { query }),
      artifacts: (id: string) => request<S<typeof ArtifactList>>('GET', `/v1/runs/${enc(id)}/artifacts`),
      export: (id: string, format: 'json' | 'markdown' = 'json') =>
        request<Response>('GET', `/v1/runs/${enc(id)}/export`, { query: { format }, raw: true }),
    },
    /** The worker protocol. */
    worker: {
      claim: (body: S<typeof ClaimRequest>, signal?: AbortSignal) =>
        request<S<typeof ClaimResponse>>('POST', '/v1/runs/claim', {
          body,
          signal,
          timeoutMs: (body.wait_ms ?? 0) + 30_000,
        }),
      heartbeat: (runId: string, leaseToken: string) =>
        request<S<typeof HeartbeatResponse>>('POST', `/v1/runs/${enc(runId)}/heartbeat`, {
          body: { lease_token: leaseToken },
        }),
      heartbeatMany: (leases: { run_id: string; lease_token: string }[]) =>
        request<S<typeof BatchResults>>('POST', '/v1/runs/heartbeat', { body: { leases } }),
      appendEvents: (runId: string, leaseToken: string, events: S<typeof WorkerEvent>[]) =>
        request<S<typeof AppendEventsResponse>>('POST', `/v1/runs/${enc(runId)}/events`, {
          body: { lease_token: leaseToken, events },
        }),
      complete: (runId: string, leaseToken: string, completion: Completion) =>
        request<{ run: S<typeof Run> }>('POST', `/v1/runs/${enc(runId)}/complete`, {
          body: { lease_token: leaseToken, ...completion },
        }),
      completeMany: (completions: ({ run_id: string; lease_token: string } & Completion)[]) =>
        request<S<typeof BatchResults>>('POST', '/v1/runs/complete', { body: { completions } }),
      release: (runId: string, leaseToken: string, reason: string) =>
        request<{ run: S<typeof Run> }>('POST', `/v1/runs/${enc(runId)}/release`, {
          body: { lease_token: leaseToken, reason },
        }),
      createArtifact: (runId: string, body: S<typeof CreateArtifact>) =>
        request<S<typeof ArtifactGrant>>('POST', `/v1/runs/${enc(runId)}/artifacts`, { body }),
      completeArtifact: (artifactId: string, leaseToken: string) =>
        request<S<typeof Artifact>>('POST', `/v1/artifacts/${enc(artifactId)}/complete`, {
          body: { lease_token: leaseToken },
          timeoutMs: 300_000,
        }),
      /** Store a run's Spec Kit documents as new spec_docs versions of `project`. */
      storeSpecDocs: (runId: string, body: S<typeof StoreSpecDocs>) =>
        request<S<typeof SpecDocsResponse>>('POST', `/v1/runs/${enc(runId)}/spec-docs`, { body }),
      /** The latest spec_docs (with content) of a project the run names as input. */
      readSpecDocs: (runId: string, leaseToken: string, project: string) =>
        request<S<typeof SpecDocsResponse>>('POST', `/v1/runs/${enc(runId)}/inputs/spec-docs`, {
          body: { lease_token: leaseToken, project },
        }),
      /** An artifact the run names as input: inline content or a short-lived download URL. */
      readArtifact: (runId: string, leaseToken: string, artifactId: string) =>
        request<S<typeof ArtifactInput>>('POST', `/v1/runs/${enc(runId)}/inputs/artifact`, {
          body: { lease_token: leaseToken, artifact_id: artifactId },
        }),
    },
    artifacts: {
      get: (id: string) => request<S<typeof ArtifactWithUrl>>('GET', `/v1/artifacts/${enc(id)}`),
      content: (id: string) => request<Response>('GET', `/v1/artifacts/${enc(id)}/content`, { raw: true }),
    },
    templates: {
      list: () => request<{ templates: S<typeof Template>[] }>('GET', '/v1/templates'),
      get: (name: string) => request<S<typeof Template>>('GET', `/v1/templates/${enc(name)}`),
      create: (body: S<typeof TemplateInput>) =>
        request<S<typeof Template>>('POST', '/v1/templates', { body }),
      put: (body: S<typeof TemplateInput>) =>
        request<S<typeof Template>>('PUT', `/v1/templates/${enc(body.name)}`, { body }),
      delete: (name: string) => request<{ deleted: boolean }>('DELETE', `/v1/templates/${enc(name)}`),
      /**
       * Check a template without saving it: resolves `{valid: true}` for a valid one; an invalid one rejects
       * with `ApiError` 400 `validation_failed` whose `details` lists every problem (`TemplateProblem[]`).
       */
      validate: (body: unknown) =>
        request<S<typeof TemplateValidation>>('POST', '/v1/templates/validate', { body }),
      preview: (name: string, params: Record<string, unknown>) =>
        request<S<typeof PreviewResponse>>('POST', `/v1/templates/${enc(name)}/preview`, {
          body: { params },
        }),
    },
    lanes: {
      list: () => request<S<typeof LaneList>>('GET', '/v1/lanes'),
      metrics: () => request<S<typeof LaneMetrics>>('GET', '/v1/lanes/metrics'),
      update: (name: string, body: S<typeof UpdateLane>) =>
        request<S<typeof LaneList>>('PUT', `/v1/lanes/${enc(name)}`, { body }),
    },
    sessions: {
      list: () => request<S<typeof SessionList>>('GET', '/v1/sessions'),
      create: (body: S<typeof CreateSession>) => request<S<typeof Session>>('POST', '/v1/sessions', { body }),
      get: (id: string) => request<S<typeof Session>>('GET', `/v1/sessions/${enc(id)}`),
      close: (id: string) => request<S<typeof Session>>('POST', `/v1/sessions/${enc(id)}/close`),
    },
    workers: { list: () => request<S<typeof WorkerList>>('GET', '/v1/workers') },
    specDocs: {
      list: (project?: string) =>
        request<S<typeof SpecDocList>>('GET', '/v1/spec-docs', { query: { project } }),
      get: (id: string) => request<S<typeof SpecDoc>>('GET', `/v1/spec-docs/${enc(id)}`),
    },
    tokens: {
      /** `lanes` / `templates`: the only ones the token may touch (omit for all). */
      create: (body: S<typeof CreateToken>) =>
        request<S<typeof CreatedToken>>('POST', '/v1/tokens', { body }),
      list: () => request<S<typeof TokenList>>('GET', '/v1/tokens'),
      revoke: (id: string) => request<S<typeof TokenInfo>>('DELETE', `/v1/tokens/${enc(id)}`),
    },
  };
}

export type OcrClient = ReturnType<typeof createClient>;
