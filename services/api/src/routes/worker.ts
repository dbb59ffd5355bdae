import type { FastifyInstance } from 'fastify';
import type Type from 'typebox';
import {
  appendEvents,
  appendEventsMany,
  claimRuns,
  completeRuns,
  createArtifact,
  findOrphanedLeases,
  getArtifact,
  getRun,
  getTemplate,
  heartbeatRuns,
  markArtifactReady,
  registerWorker,
  releaseRun,
  sweepStaleRuns,
  type AppendResult,
  type Fenced,
  type Registration,
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
  secretParamNames,
} from '@ocr/contracts';
import { heartbeatIntervalS } from '../config.js';
import { apiError, leaseLost, notFound } from '../errors.js';
import { artifactToWire, runToWire, type TemplateDefinition } from '../serialize.js';
import { workerSpecKitRoutes } from './worker-spec-kit.js';
import { enforceWorkerScope } from './worker-scope.js';

const worker = { role: 'worker' as const };
/**
 * The hot calls of the worker protocol log at `warn`: a busy fleet makes thousands of them a second and
 * Fastify's two `info` lines per request (incoming, completed) cost the API more than some of the calls
 * themselves. Their failures still log (5xx at error); `/metrics` counts every call, refusals included.
 */
const HOT_LOG_LEVEL = 'warn' as const;

/** A fenced result as an HTTP answer: 409 lease_lost, 404 not_found. */
function unwrap<T>(result: Fenced<T>, runId: string): T {
  if (result.ok) return result.value;
  if (result.reason === 'lease_lost') throw leaseLost(runId);
  throw notFound('run');
}

const FALLBACK_POLL_MS = 1_000;
const REGISTER_EVERY_MS = 5_000;

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
 * Claims register the worker (fleet view, liveness, restart detection) at most every few seconds per
 * worker, boot and token, not on every claim: a busy worker claims many times a second and each write is a
 * commit. A claim from another token always goes to the database, which decides whether the id is its own.
 */
class RegistrationCache {
  private readonly seen = new Map<string, { boot: string; token: string; at: number }>();

  async register(
    workerId: string,
    bootId: string,
    tokenId: string,
    write: () => Promise<Registration>,
  ): Promise<Registration> {
    const last = this.seen.get(workerId);
    if (last && last.boot === bootId && last.token === tokenId && Date.now() - last.at < REGISTER_EVERY_MS)
      return { registered: true, previousBoot: bootId };
    const result = await write();
    if (!result.registered) return result;
    if (this.seen.size > 10_000) this.seen.clear();
    this.seen.set(workerId, { boot: bootId, token: tokenId, at: Date.now() });
    return result;
  }
}

/**
 * The worker protocol: claim (long-poll), heartbeat, events, complete, release, artifacts. Everything after
 * the claim is fenced by the lease token: a worker whose run was requeued gets 409 `lease_lost`.
 */
export async function workerRoutes(app: FastifyInstance): Promise<void> {
  enforceWorkerScope(app);
  const leaseSeconds = () => app.config.OCR_HEARTBEAT_TIMEOUT_S;
  const registrations = new RegistrationCache();
  const stepsCache = new Map<string, TemplateDefinition>();
  const definitionOf = async (run: RunRow): Promise<TemplateDefinition> => {
    const key = `${run.template}@${run.template_version}`;
    let def = stepsCache.get(key);
    if (!def) {
      const template = await getTemplate(app.db, run.template, run.template_version);
      def = (template?.definition as TemplateDefinition | undefined) ?? { steps: [] };
      stepsCache.set(key, def);
    }
    return def;
  };

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
      const body = request.body as Type.Static<typeof ClaimRequest>;
      const started = Date.now();
      const bootId = body.boot_id ?? 'unknown';
      const tokenId = request.principal!.tokenId;
      const { registered, previousBoot } = await registrations.register(body.worker_id, bootId, tokenId, () =>
        registerWorker(app.db, {
          id: body.worker_id,
          boot_id: bootId,
          lanes: body.lanes,
          version: body.version ?? '',
          concurrency: body.concurrency ?? body.limit ?? 1,
          token_id: tokenId,
        }),
      );
      if (!registered)
        throw apiError(
          'forbidden',
          `worker_id ${body.worker_id} is registered by another token; a token claims only as the worker identities it registered`,
        );
      if (previousBoot && previousBoot !== bootId) {
        // The same worker id, registered by this same token, came back with a new boot: its old process is
        // gone, requeue its leases now. (Another token never gets here: previousBoot is null for it.)
        const orphans = await findOrphanedLeases(app.db, body.worker_id, bootId);
        if (orphans.length > 0) {
          const swept = await sweepStaleRuns(app.db, orphans, undefined, 'worker_restarted');
          request.log.warn(
            { workerId: body.worker_id, requeued: swept.length },
            'worker restarted: orphaned leases requeued',
          );
        }
      }
      const deadline = started + (body.wait_ms ?? 0);
      // The response's 'close' before it finished means the worker went away (the request's own
      // 'close' fires as soon as the body was read, which says nothing about the client).
      const abort = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) abort.abort();
      });
      const stop = AbortSignal.any([abort.signal, app.closing]);
      let runs: RunRow[] = [];
      for (;;) {
        if (app.closing.aborted) break;
        runs = await claimRuns(app.db, {
          workerId: body.worker_id,
          workerBoot: bootId,
          lanes: body.lanes,
          limit: body.limit ?? 1,
          leaseSeconds: leaseSeconds(),
          sessionId: body.session_id ?? null,
          notify: false,
        });
        runsChanged(app, runs);
        const left = deadline - Date.now();
        if (runs.length > 0 || left <= 0 || stop.aborted) break;
        await app.waiters.wait(body.lanes, Math.min(left, FALLBACK_POLL_MS), stop);
      }
      if (stop.aborted && runs.length > 0) {
        // Nobody will receive these leases: hand them straight back rather than strand them until a sweep.
        await Promise.all(
          runs.map((run) =>
            releaseRun(app.db, { runId: run.id, leaseToken: run.lease_token! }, 'claim_abandoned'),
          ),
        );
        request.log.warn(
          { workerId: body.worker_id, runs: runs.length },
          'claimer went away: leases released',
        );
        runs = [];
      }
      app.metrics.claimSeconds.observe((Date.now() - started) / 1000);
      return {
        heartbeat_interval_s: heartbeatIntervalS(app.config),
        heartbeat_timeout_s: app.config.OCR_HEARTBEAT_TIMEOUT_S,
        runs: await Promise.all(
          runs.map(async (run) => {
            const def = await definitionOf(run);
            return {
              run: runToWire(run),
              lease_token: run.lease_token!,
              lease_expires_at: run.lease_expires_at!.toISOString(),
              steps: def.steps,
              timeout_s: def.timeout_s ?? null,
              secret_params: [...secretParamNames(def.params_schema)],
            };
          }),
        ),
      };
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
      const { id } = request.params as { id: string };
      const { lease_token } = request.body as { lease_token: string };
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
      const { leases } = request.body as Type.Static<typeof HeartbeatBatch>;
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
                  message: r.reason === 'lease_lost' ? 'lease lost' : 'run not found',
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
      const { id } = request.params as { id: string };
      const body = request.body as Type.Static<typeof AppendEvents>;
      const result = await appendEvents(app.db, { runId: id, leaseToken: body.lease_token }, body.events, {
        notify: false,
      });
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
      const { id } = request.params as { id: string };
      const body = request.body as Type.Static<typeof CompleteRequest>;
      if (body.events?.length) {
        const appended = await appendEvents(
          app.db,
          { runId: id, leaseToken: body.lease_token },
          body.events,
          { notify: false },
        );
        eventsAppended(app, [id], [appended]);
        unwrap(appended, id);
      }
      const [result] = await completeRuns(
        app.db,
        [
          {
            runId: id,
            leaseToken: body.lease_token,
            status: body.status,
            error: body.error ?? null,
            output: body.output,
          },
        ],
        { notify: false },
      );
      const run = unwrap(result!, id);
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
      const { completions } = request.body as Type.Static<typeof CompleteBatch>;
      // Final events first, every run's in one statement (a lost lease shows up again, per item, in the
      // completion's answer); events, steps and completions commit together: one commit per batch, not three.
      const withEvents = completions.filter((c) => c.events?.length);
      const [appended, results] = await app.db.transaction().execute(
        async (trx) =>
          [
            await appendEventsMany(
              trx,
              withEvents.map((c) => ({
                lease: { runId: c.run_id, leaseToken: c.lease_token },
                events: c.events!,
              })),
              { notify: false },
            ),
            await completeRuns(
              trx,
              completions.map((c) => ({
                runId: c.run_id,
                leaseToken: c.lease_token,
                status: c.status,
                error: c.error ?? null,
                output: c.output,
              })),
              { notify: false },
            ),
          ] as const,
      );
      eventsAppended(
        app,
        withEvents.map((c) => c.run_id),
        appended,
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
              error: { code: r.reason, message: r.reason === 'lease_lost' ? 'lease lost' : 'run not found' },
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
      const { id } = request.params as { id: string };
      const body = request.body as Type.Static<typeof ReleaseRequest>;
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
      const { id } = request.params as { id: string };
      const body = request.body as Type.Static<typeof CreateArtifact>;
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
        unwrap({ ok: false, reason: (await getRun(app.db, id)) ? 'lease_lost' : 'not_found' }, id);
        throw notFound('run');
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
      const { id } = request.params as { id: string };
      const { lease_token } = request.body as { lease_token: string };
      const artifact = await getArtifact(app.db, id);
      if (!artifact) throw notFound('artifact');
      const run = await getRun(app.db, artifact.run_id);
      if (!run || run.lease_token !== lease_token || run.status !== 'running')
        throw leaseLost(artifact.run_id);
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
      const ready = await markArtifactReady(app.db, id);
      return artifactToWire(ready ?? artifact);
    },
  );
  await workerSpecKitRoutes(app);
}
