import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  completeArtifact,
  completeRunWithEvents,
  completeRunsWithEvents,
  createArtifact,
  diagnoseFence,
  getArtifact,
  heartbeatRuns,
  leasedRun,
  releaseRun,
  type AppendResult,
  type Fenced,
  type FenceMiss,
  type RunRow,
} from '@ocr/db';
import {
  AppendEvents,
  AppendEventsResponse,
  ArtifactGrant,
  BatchResults,
  ClaimRequest,
  ClaimResponse,
  CompleteBatch,
  CompleteRequest,
  CreateArtifact,
  ErrorResponses,
  HeartbeatBatch,
  HeartbeatResponse,
  IdParams,
  LeaseBody,
  ReleaseRequest,
  RunResponse,
  Artifact,
} from '@ocr/contracts';
import { AppendCoalescer } from '../append-coalescer.js';
import { ClaimOrchestrator } from '../claim-orchestration.js';
import { apiError, leaseLost, notFound } from '../errors.js';
import { artifactToWire, claimAnswerBody, runToWire } from '../serialize.js';
import { workerSpecKitRoutes } from './worker-spec-kit.js';
import { enforceWorkerScope } from './worker-scope.js';

const worker = { role: 'worker' as const };
/**
 * The hot calls of the worker protocol log at `warn`: a busy fleet makes thousands of them a second and
 * Fastify's two `info` lines per request (incoming, completed) cost the API more than some of the calls
 * themselves. Their failures still log (5xx at error); `/metrics` counts every call, refusals included.
 */
const HOT_LOG_LEVEL = 'warn' as const;

/** A fenced miss as an HTTP error: 409 lease_lost (saying why), 404 not_found. */
const missed = (miss: FenceMiss, runId: string) =>
  miss.reason === 'lease_lost' ? leaseLost(runId, miss) : notFound('run');

/** A fenced result as an HTTP answer. */
function unwrap<T>(result: Fenced<T>, runId: string): T {
  if (result.ok) return result.value;
  throw missed(result, runId);
}

/** Hints of runs a commit changed (status and a new event each), published after it. */
function runsChanged(app: FastifyInstance, runs: Pick<RunRow, 'id' | 'last_seq'>[]): void {
  if (runs.length === 0) return;
  app.listener.publish({
    events: runs.map((run) => ({ id: run.id, seq: run.last_seq })),
    status: runs.map((run) => run.id),
  });
}

/** Hints of the runs an append stored events for. */
function eventsAppended(app: FastifyInstance, runIds: string[], results: Fenced<AppendResult>[]): void {
  const events = results.flatMap((r, i) =>
    r.ok && r.value.run_seq !== null ? [{ id: runIds[i]!, seq: r.value.run_seq }] : [],
  );
  if (events.length > 0) app.listener.publish({ events });
}

/**
 * The worker protocol: claim (long-poll), heartbeat, events, complete, release, artifacts. Everything after
 * the claim is fenced by the lease token: a worker whose run was requeued gets 409 `lease_lost`.
 */
export async function workerRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  enforceWorkerScope(app);
  const leaseSeconds = () => app.config.OCR_HEARTBEAT_TIMEOUT_S;
  const claims = new ClaimOrchestrator(app);
  const appends = new AppendCoalescer(app.db);

  app.post(
    '/v1/runs/claim',
    {
      logLevel: HOT_LOG_LEVEL,
      config: worker,
      schema: {
        tags: ['worker protocol'],
        summary: 'Claim runs; long-polls up to wait_ms',
        body: ClaimRequest,
        response: { 200: ClaimResponse, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      // The response's 'close' before it finished means the worker went away (the request's own
      // 'close' fires as soon as the body was read, which says nothing about the client).
      const gone = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) gone.abort();
      });
      const answer = await claims.claim(request.body, {
        tokenId: request.principal!.tokenId,
        gone: gone.signal,
        log: request.log,
      });
      // The schema above documents the answer; the bytes are written here (serialize.ts, claimAnswerBody),
      // which the type provider cannot see: a Buffer is sent as it is.
      return reply.type('application/json; charset=utf-8').send(claimAnswerBody(answer) as never);
    },
  );

  app.post(
    '/v1/runs/:id/heartbeat',
    {
      logLevel: HOT_LOG_LEVEL,
      config: worker,
      schema: {
        tags: ['worker protocol'],
        summary: 'Extend the lease; learn about cancellation',
        params: IdParams,
        body: LeaseBody,
        response: { 200: HeartbeatResponse, ...ErrorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { lease_token } = request.body;
      const [result] = await heartbeatRuns(app.db, [{ runId: id, leaseToken: lease_token }], leaseSeconds());
      const value = unwrap(result!, id);
      return {
        cancel_requested: value.cancel_requested,
        lease_expires_at: value.lease_expires_at.toISOString(),
      };
    },
  );

  app.post(
    '/v1/runs/heartbeat',
    {
      logLevel: HOT_LOG_LEVEL,
      config: worker,
      schema: {
        tags: ['worker protocol'],
        summary: 'Heartbeat many leases in one request',
        body: HeartbeatBatch,
        response: { 200: BatchResults, ...ErrorResponses },
      },
    },
    async (request) => {
      const { leases } = request.body;
      const results = await heartbeatRuns(
        app.db,
        leases.map((l) => ({ runId: l.run_id, leaseToken: l.lease_token })),
        leaseSeconds(),
      );
      return {
        results: results.map((r, i) =>
          r.ok
            ? {
                run_id: leases[i]!.run_id,
                ok: true,
                cancel_requested: r.value.cancel_requested,
                lease_expires_at: r.value.lease_expires_at.toISOString(),
              }
            : {
                run_id: leases[i]!.run_id,
                ok: false,
                error: {
                  code: r.reason,
                  message: r.reason === 'lease_lost' ? `lease lost (${r.why})` : 'run not found',
                },
              },
        ),
      };
    },
  );

  app.post(
    '/v1/runs/:id/events',
    {
      logLevel: HOT_LOG_LEVEL,
      config: { ...worker, sanitizesText: true },
      schema: {
        tags: ['worker protocol'],
        summary: 'Append a batch of events (idempotent on the worker seq)',
        params: IdParams,
        body: AppendEvents,
        response: { 200: AppendEventsResponse, ...ErrorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const body = request.body;
      // A run someone follows live on this process: the append returns its stored rows for the feed. Small
      // appends arriving together share one statement (append-coalescer.ts).
      const result = await appends.append(
        { runId: id, leaseToken: body.lease_token },
        body.events,
        app.hub.follows(id),
      );
      if (result.ok && result.value.events) app.hub.offer(id, result.value.events);
      eventsAppended(app, [id], [result]);
      const { accepted, last_seq } = unwrap(result, id);
      return { accepted, last_seq };
    },
  );

  app.post(
    '/v1/runs/:id/complete',
    {
      logLevel: HOT_LOG_LEVEL,
      config: { ...worker, sanitizesText: true },
      schema: {
        tags: ['worker protocol'],
        summary: 'Finish the attempt',
        params: IdParams,
        body: CompleteRequest,
        response: { 200: RunResponse, ...ErrorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const body = request.body;
      // The last events and the completion in one statement: one commit, the run row updated once.
      const run = unwrap(
        await completeRunWithEvents(app.db, {
          runId: id,
          leaseToken: body.lease_token,
          status: body.status,
          error: body.error ?? null,
          output: body.output,
          events: body.events,
        }),
        id,
      );
      runsChanged(app, [run]);
      if (run.status !== 'queued') app.metrics.runsFinished.inc({ status: run.status });
      return { run: runToWire(run) };
    },
  );

  app.post(
    '/v1/runs/complete',
    {
      logLevel: HOT_LOG_LEVEL,
      config: { ...worker, sanitizesText: true },
      schema: {
        tags: ['worker protocol'],
        summary: 'Finish many attempts in one request',
        body: CompleteBatch,
        response: { 200: BatchResults, ...ErrorResponses },
      },
    },
    async (request) => {
      const { completions } = request.body;
      // Final events, steps and completions of every run in one statement: one commit, one update of each
      // run row, no transaction open across round trips.
      const results = await completeRunsWithEvents(
        app.db,
        completions.map((c) => ({
          runId: c.run_id,
          leaseToken: c.lease_token,
          status: c.status,
          error: c.error ?? null,
          output: c.output,
          events: c.events,
        })),
      );
      runsChanged(
        app,
        results.flatMap((r) => (r.ok ? [r.value] : [])),
      );
      return {
        results: results.map((r, i) => {
          if (!r.ok)
            return {
              run_id: completions[i]!.run_id,
              ok: false,
              error: {
                code: r.reason,
                message: r.reason === 'lease_lost' ? `lease lost (${r.why})` : 'run not found',
              },
            };
          if (r.value.status !== 'queued') app.metrics.runsFinished.inc({ status: r.value.status });
          return { run_id: completions[i]!.run_id, ok: true, status: r.value.status };
        }),
      };
    },
  );

  app.post(
    '/v1/runs/:id/release',
    {
      config: worker,
      schema: {
        tags: ['worker protocol'],
        summary: 'Hand a run back without penalty (shutdown)',
        params: IdParams,
        body: ReleaseRequest,
        response: { 200: RunResponse, ...ErrorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const body = request.body;
      const run = unwrap(
        await releaseRun(app.db, { runId: id, leaseToken: body.lease_token }, body.reason),
        id,
      );
      return { run: runToWire(run) };
    },
  );

  app.post(
    '/v1/runs/:id/artifacts',
    {
      config: worker,
      schema: {
        tags: ['worker protocol'],
        summary: 'Declare an artifact: inline content, or get a presigned upload URL',
        params: IdParams,
        body: CreateArtifact,
        response: { 201: ArtifactGrant, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const body = request.body;
      if (body.content !== undefined) {
        const bytes = Buffer.from(body.content, 'utf8');
        const { createHash } = await import('node:crypto');
        if (bytes.length !== body.size || createHash('sha256').update(bytes).digest('hex') !== body.sha256) {
          throw apiError('validation_failed', 'content: does not match size and sha256', [
            { field: 'content', message: 'size or sha256 mismatch' },
          ]);
        }
      } else if (!app.storage) {
        throw apiError(
          'validation_failed',
          'content: object storage is not configured (OCR_S3_*): only inline artifacts up to 256 KiB',
          [{ field: 'content', message: 'required without object storage' }],
        );
      }
      const row = await createArtifact(app.db, {
        run_id: id,
        lease_token: body.lease_token,
        name: body.name,
        kind: body.kind,
        content_type: body.content_type,
        size: body.size,
        sha256: body.sha256,
        content: body.content,
        object_key_prefix: app.storage?.prefix ?? '',
      });
      if (!row) {
        throw missed(
          (await diagnoseFence(app.db, [{ runId: id, leaseToken: body.lease_token }])).get(id)!,
          id,
        );
      }
      const upload = row.object_key
        ? await app.storage!.uploadUrl(row.object_key, row.content_type, body.size)
        : undefined;
      return reply.code(201).send({
        artifact: artifactToWire(row),
        ...(upload
          ? {
              upload: {
                url: upload.url,
                method: 'PUT',
                headers: upload.headers,
                expires_in_s: upload.expiresIn,
              },
            }
          : {}),
      });
    },
  );

  app.post(
    '/v1/artifacts/:id/complete',
    {
      config: worker,
      schema: {
        tags: ['worker protocol'],
        summary: 'Verify an uploaded artifact (size, sha256) and mark it ready',
        params: IdParams,
        body: LeaseBody,
        response: { 200: Artifact, ...ErrorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { lease_token } = request.body;
      const artifact = await getArtifact(app.db, id);
      if (!artifact) throw notFound('artifact');
      // Checked before measuring so a zombie costs no storage read; the compare-and-set below decides.
      unwrap(await leasedRun(app.db, { runId: artifact.run_id, leaseToken: lease_token }), artifact.run_id);
      if (artifact.status === 'ready') return artifactToWire(artifact);
      const measured =
        app.storage && artifact.object_key ? await app.storage.measure(artifact.object_key) : undefined;
      if (!measured) throw apiError('conflict', 'no object was uploaded for this artifact');
      if (measured.size !== Number(artifact.size) || measured.sha256 !== artifact.sha256) {
        throw apiError(
          'conflict',
          `uploaded object does not match: size ${measured.size} (declared ${artifact.size}), sha256 ${measured.sha256.slice(0, 12)}…`,
          {
            size: measured.size,
            sha256: measured.sha256,
          },
        );
      }
      const done = await completeArtifact(app.db, { id, leaseToken: lease_token });
      if (done.outcome === 'not_found') throw notFound('artifact');
      if (done.outcome === 'lease_lost') throw missed(done.miss, artifact.run_id);
      return artifactToWire(done.artifact);
    },
  );
  await workerSpecKitRoutes(app);
}
