import { createTransport, type ClientOptions } from './http.js';
import { follow, type FollowOptions } from './follow.js';
import type {
  ArtifactSearchList,
  ArtifactSearchQuery,
  ArtifactWithUrl,
  ClaimRequest,
  CreateRun,
  EventsQuery,
  ListRunsParams,
  RequestBody as Body,
  ResponseBody as Answer,
  Run,
  RunDetail,
  RunEvent,
  RunList,
  Template,
  TemplateInput,
  TemplateValidation,
  WorkerEvent,
} from './types.js';

/** How a worker ends a run (`POST /v1/runs/{id}/complete` without the lease token). */
export type Completion = Omit<Body<'/v1/runs/{id}/complete', 'post'>, 'lease_token'>;

/**
 * The typed Ops Control Room client: every route of the API, for integrators, the worker, the CLI and the
 * console, and `follow(runId)` for a run's events as an async iterator. Errors are thrown as `ApiError`
 * with the API's `code`.
 */
export function createClient(options: ClientOptions) {
  const request = createTransport(options);
  const enc = encodeURIComponent;
  const client = {
    whoami: () => request<Answer<'/v1/whoami', 'get'>>('GET', '/v1/whoami'),
    runs: {
      create: (body: CreateRun, opts: { idempotencyKey?: string } = {}) =>
        request<{ run: Run }>('POST', '/v1/runs', {
          body,
          headers: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined,
        }),
      createBatch: (runs: CreateRun[], opts: { idempotencyKey?: string } = {}) =>
        request<{ runs: Run[] }>('POST', '/v1/runs/batch', {
          body: { runs },
          headers: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined,
        }),
      list: (query: ListRunsParams = {}) => request<RunList>('GET', '/v1/runs', { query }),
      /** Two runs side by side: params diff, steps with status, duration and output, artifacts by name. */
      compare: (a: string, b: string) =>
        request<Answer<'/v1/runs/compare', 'get'>>('GET', '/v1/runs/compare', { query: { a, b } }),
      get: (id: string) => request<RunDetail>('GET', `/v1/runs/${enc(id)}`),
      /** With `idempotencyKey`, a replay of a cancel that finished the run answers 200, not 409. */
      cancel: (id: string, opts: { idempotencyKey?: string } = {}) =>
        request<{ run: Run }>('POST', `/v1/runs/${enc(id)}/cancel`, {
          headers: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined,
        }),
      /** With `idempotencyKey`, a replay answers 200 with the run the first retry created. */
      retry: (id: string, opts: { idempotencyKey?: string } = {}) =>
        request<{ run: Run }>('POST', `/v1/runs/${enc(id)}/retry`, {
          headers: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined,
        }),
      events: (id: string, query: EventsQuery = {}) =>
        request<Answer<'/v1/runs/{id}/events', 'get'>>('GET', `/v1/runs/${enc(id)}/events`, { query }),
      artifacts: (id: string) =>
        request<Answer<'/v1/runs/{id}/artifacts', 'get'>>('GET', `/v1/runs/${enc(id)}/artifacts`),
      export: (id: string, format: 'json' | 'markdown' = 'json') =>
        request<Response>('GET', `/v1/runs/${enc(id)}/export`, { query: { format }, raw: true }),
    },
    /** The worker protocol. */
    worker: {
      claim: (body: ClaimRequest, signal?: AbortSignal) =>
        request<Answer<'/v1/runs/claim', 'post'>>('POST', '/v1/runs/claim', {
          body,
          signal,
          timeoutMs: (body.wait_ms ?? 0) + 30_000,
        }),
      heartbeat: (runId: string, leaseToken: string) =>
        request<Answer<'/v1/runs/{id}/heartbeat', 'post'>>('POST', `/v1/runs/${enc(runId)}/heartbeat`, {
          body: { lease_token: leaseToken },
        }),
      heartbeatMany: (leases: { run_id: string; lease_token: string }[]) =>
        request<Answer<'/v1/runs/heartbeat', 'post'>>('POST', '/v1/runs/heartbeat', { body: { leases } }),
      appendEvents: (runId: string, leaseToken: string, events: WorkerEvent[]) =>
        request<Answer<'/v1/runs/{id}/events', 'post'>>('POST', `/v1/runs/${enc(runId)}/events`, {
          body: { lease_token: leaseToken, events },
        }),
      complete: (runId: string, leaseToken: string, completion: Completion) =>
        request<{ run: Run }>('POST', `/v1/runs/${enc(runId)}/complete`, {
          body: { lease_token: leaseToken, ...completion },
        }),
      completeMany: (completions: ({ run_id: string; lease_token: string } & Completion)[]) =>
        request<Answer<'/v1/runs/complete', 'post'>>('POST', '/v1/runs/complete', { body: { completions } }),
      release: (runId: string, leaseToken: string, reason: string) =>
        request<{ run: Run }>('POST', `/v1/runs/${enc(runId)}/release`, {
          body: { lease_token: leaseToken, reason },
        }),
      createArtifact: (runId: string, body: Body<'/v1/runs/{id}/artifacts', 'post'>) =>
        request<Answer<'/v1/runs/{id}/artifacts', 'post'>>('POST', `/v1/runs/${enc(runId)}/artifacts`, {
          body,
        }),
      completeArtifact: (artifactId: string, leaseToken: string) =>
        request<Answer<'/v1/artifacts/{id}/complete', 'post'>>(
          'POST',
          `/v1/artifacts/${enc(artifactId)}/complete`,
          { body: { lease_token: leaseToken }, timeoutMs: 300_000 },
        ),
      /** Store a run's Spec Kit documents as new spec_docs versions of `project`. */
      storeSpecDocs: (runId: string, body: Body<'/v1/runs/{id}/spec-docs', 'post'>) =>
        request<Answer<'/v1/runs/{id}/spec-docs', 'post'>>('POST', `/v1/runs/${enc(runId)}/spec-docs`, {
          body,
        }),
      /** The latest spec_docs (with content) of a project the run names as input. */
      readSpecDocs: (runId: string, leaseToken: string, project: string) =>
        request<Answer<'/v1/runs/{id}/inputs/spec-docs', 'post'>>(
          'POST',
          `/v1/runs/${enc(runId)}/inputs/spec-docs`,
          { body: { lease_token: leaseToken, project } },
        ),
      /** An artifact the run names as input: inline content or a short-lived download URL. */
      readArtifact: (runId: string, leaseToken: string, artifactId: string) =>
        request<Answer<'/v1/runs/{id}/inputs/artifact', 'post'>>(
          'POST',
          `/v1/runs/${enc(runId)}/inputs/artifact`,
          { body: { lease_token: leaseToken, artifact_id: artifactId } },
        ),
    },
    artifacts: {
      /** Artifacts across runs, newest first (`next_cursor` pages on). */
      search: (query: ArtifactSearchQuery = {}) =>
        request<ArtifactSearchList>('GET', '/v1/artifacts', { query }),
      get: (id: string) => request<ArtifactWithUrl>('GET', `/v1/artifacts/${enc(id)}`),
      content: (id: string) => request<Response>('GET', `/v1/artifacts/${enc(id)}/content`, { raw: true }),
    },
    templates: {
      list: () => request<{ templates: Template[] }>('GET', '/v1/templates'),
      get: (name: string) => request<Template>('GET', `/v1/templates/${enc(name)}`),
      create: (body: TemplateInput) => request<Template>('POST', '/v1/templates', { body }),
      /**
       * Create, or add a version. `ifVersion`: the version you read; the save is refused (`ApiError` 409
       * `conflict`, `details.current_version`) when the template has moved on since.
       */
      put: (body: TemplateInput, opts: { ifVersion?: number } = {}) =>
        request<Template>('PUT', `/v1/templates/${enc(body.name)}`, {
          body,
          headers: opts.ifVersion === undefined ? undefined : { 'if-match': `"${opts.ifVersion}"` },
        }),
      delete: (name: string) => request<{ deleted: boolean }>('DELETE', `/v1/templates/${enc(name)}`),
      /**
       * Check a template without saving it: resolves `{valid: true}` for a valid one; an invalid one rejects
       * with `ApiError` 400 `validation_failed` whose `details` lists every problem (`TemplateProblem[]`).
       */
      validate: (body: unknown) => request<TemplateValidation>('POST', '/v1/templates/validate', { body }),
      preview: (name: string, params: Record<string, unknown>) =>
        request<Answer<'/v1/templates/{name}/preview', 'post'>>(
          'POST',
          `/v1/templates/${enc(name)}/preview`,
          { body: { params } },
        ),
    },
    lanes: {
      list: () => request<Answer<'/v1/lanes', 'get'>>('GET', '/v1/lanes'),
      metrics: () => request<Answer<'/v1/lanes/metrics', 'get'>>('GET', '/v1/lanes/metrics'),
      update: (name: string, body: Body<'/v1/lanes/{name}', 'put'>) =>
        request<Answer<'/v1/lanes/{name}', 'put'>>('PUT', `/v1/lanes/${enc(name)}`, { body }),
    },
    sessions: {
      list: () => request<Answer<'/v1/sessions', 'get'>>('GET', '/v1/sessions'),
      create: (body: Body<'/v1/sessions', 'post'>) =>
        request<Answer<'/v1/sessions', 'post'>>('POST', '/v1/sessions', { body }),
      get: (id: string) => request<Answer<'/v1/sessions/{id}', 'get'>>('GET', `/v1/sessions/${enc(id)}`),
      close: (id: string) =>
        request<Answer<'/v1/sessions/{id}/close', 'post'>>('POST', `/v1/sessions/${enc(id)}/close`),
    },
    workers: { list: () => request<Answer<'/v1/workers', 'get'>>('GET', '/v1/workers') },
    specDocs: {
      list: (project?: string) =>
        request<Answer<'/v1/spec-docs', 'get'>>('GET', '/v1/spec-docs', { query: { project } }),
      get: (id: string) => request<Answer<'/v1/spec-docs/{id}', 'get'>>('GET', `/v1/spec-docs/${enc(id)}`),
    },
    tokens: {
      /** `lanes` / `templates`: the only ones the token may touch (omit for all). */
      create: (body: Body<'/v1/tokens', 'post'>) =>
        request<Answer<'/v1/tokens', 'post'>>('POST', '/v1/tokens', { body }),
      list: () => request<Answer<'/v1/tokens', 'get'>>('GET', '/v1/tokens'),
      revoke: (id: string) => request<Answer<'/v1/tokens/{id}', 'delete'>>('DELETE', `/v1/tokens/${enc(id)}`),
    },
    /**
     * A run's events as an async iterator, backlog then live, each once and in order; it ends after the
     * event that finished the run. Resumes by itself after a dropped connection; `afterSeq` starts later
     * (resume after a restart), `signal` stops it (the loop then throws the signal's reason).
     */
    follow: (runId: string, opts: FollowOptions = {}): AsyncIterable<RunEvent> =>
      follow(client, options, runId, opts),
  };
  return client;
}

export type OcrClient = ReturnType<typeof createClient>;
