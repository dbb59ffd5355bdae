import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import {
  cancelRun,
  cancelledWithKey,
  enqueueRuns,
  getRun,
  getRunSteps,
  laneStates,
  listArtifacts,
  listRuns,
  readEvents,
  retryRun,
  type EnqueueInput,
  type EnqueueResult,
  type RunRow,
} from '@ocr/db';
import {
  ArtifactList,
  CreateRun,
  CreateRunsBatch,
  ErrorResponses,
  EventList,
  EventsQuery,
  ExportQuery,
  IdParams,
  ListRunsQuery,
  RunDetail,
  RunList,
  RunResponse,
  RunsResponse,
} from '@ocr/contracts';
import { apiError, notFound } from '../errors.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { actionKey, prepareRuns, requestFingerprint, type Idempotency } from '../run-factory.js';
import { artifactToWire, eventToWire, runToWire, stepToWire } from '../serialize.js';
import { maskRunSecrets } from '../secret-params.js';
import { renderRunMarkdown } from './run-export.js';
import { assertLane, assertRun, assertTemplate, isScoped } from '../scope.js';

type CreateRunBody = Type.Static<typeof CreateRun>;

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
});

/** The request's idempotency key, scoped to its token. */
function idempotencyOf(request: FastifyRequest): Idempotency | undefined {
  const key = (request.headers as Type.Static<typeof IdempotencyHeaders>)['idempotency-key'];
  return key ? { key, tokenId: request.principal!.tokenId } : undefined;
}

/** `?params=` as the object it must be: JSON, an object, not an array or a scalar. */
function paramsFilter(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw apiError('validation_failed', 'query.params: must be a JSON object, e.g. {"env":"prod"}', [
      { field: 'query.params', message: 'must be a JSON object' },
    ]);
  }
  return value as Record<string, unknown>;
}

/** Runs for operators and integrators: create (single, batch), list, read, cancel, retry, events, export. */
export async function runRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  /**
   * Enqueue; a replayed key must come with the same request. A different request under a used key is a
   * 409 and, since the check runs inside the transaction, creates nothing (not even the batch's new items).
   *
   * Without an idempotency key nothing can clash, and `enqueueRuns` is then a single statement, atomic in its
   * own implicit transaction: it is sent alone, without BEGIN and COMMIT. Those are two more round trips,
   * each waiting for a turn of this event loop, between the run's creation (`created_at` is the transaction's
   * start) and its commit, the moment a parked claim can see it (bench/NOTES.md, issue 19 fifth pass, h19c).
   */
  const enqueue = (inputs: EnqueueInput[]): Promise<EnqueueResult[]> =>
    inputs.every((input) => !input.idempotency_key)
      ? enqueueRuns(app.db, inputs, { notify: false })
      : enqueueWithKeys(inputs);
  const enqueueWithKeys = (inputs: EnqueueInput[]): Promise<EnqueueResult[]> =>
    app.db.transaction().execute(async (trx) => {
      const results = await enqueueRuns(trx, inputs, { notify: false });
      const clash = results.findIndex(
        (r, i) =>
          !r.created &&
          r.run.idempotency_fingerprint !== null &&
          r.run.idempotency_fingerprint !== inputs[i]!.idempotency_fingerprint,
      );
      if (clash >= 0) {
        throw apiError(
          'idempotency_conflict',
          'idempotency-key: already used for a different request; use a new key for a new request',
          {
            run_id: results[clash]!.run.id,
            ...(inputs.length > 1 ? { index: clash } : {}),
          },
        );
      }
      return results;
    });

  /**
   * prepareRuns, for the token's scope only: a template or lane named outside it is refused before the
   * template is even looked up (a scoped token learns nothing of other templates), and so is a run whose
   * lane comes from its template's default_lane.
   */
  const prepareInScope = async (request: FastifyRequest, runs: CreateRunBody[]): Promise<EnqueueInput[]> => {
    const scope = request.principal!;
    runs.forEach((run, i) => {
      const at = runs.length > 1 ? `runs[${i}].` : '';
      assertTemplate(scope, run.template, `${at}template`);
      if (run.lane) assertLane(scope, run.lane, `${at}lane`);
    });
    const inputs = await prepareRuns(app.db, runs, idempotencyOf(request));
    inputs.forEach((input, i) =>
      assertLane(
        scope,
        input.lane,
        `${runs.length > 1 ? `runs[${i}].` : ''}lane (the template's default_lane)`,
      ),
    );
    return inputs;
  };
  /** The run, if it exists and is in the token's scope (404, 403 out_of_scope otherwise). */
  const runInScope = async (request: FastifyRequest, id: string): Promise<RunRow> => {
    const run = await getRun(app.db, id);
    if (!run) throw notFound('run');
    assertRun(request.principal!, run);
    return run;
  };

  const wire = async (runs: RunRow[]) => {
    const states = await laneStates(app.db, [...new Set(runs.map((r) => r.lane))]);
    // Secret params never leave the API in clear (only the worker's claim carries them).
    return (await maskRunSecrets(app.db, runs)).map((run) => runToWire(run, states.get(run.lane)));
  };

  app.post(
    '/v1/runs',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['runs'],
        summary: 'Create a run',
        headers: IdempotencyHeaders,
        body: CreateRun,
        response: { 200: RunResponse, 201: RunResponse, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const inputs = await prepareInScope(request, [request.body]);
      const [result] = await enqueue(inputs);
      if (result!.created) {
        app.metrics.runsCreated.inc();
        app.listener.publish({ lanes: [result!.run.lane] });
      }
      const [run] = await wire([result!.run]);
      return reply.code(result!.created ? 201 : 200).send({ run: run! });
    },
  );

  app.post(
    '/v1/runs/batch',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['runs'],
        summary: 'Create up to 1,000 runs atomically',
        headers: IdempotencyHeaders,
        body: CreateRunsBatch,
        response: { 201: RunsResponse, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const inputs = await prepareInScope(request, request.body.runs);
      const results = await enqueue(inputs);
      const created = results.filter((r) => r.created);
      app.metrics.runsCreated.inc(created.length);
      app.listener.publish({ lanes: new Set(created.map((r) => r.run.lane)) });
      return reply.code(201).send({ runs: await wire(results.map((r) => r.run)) });
    },
  );

  app.get(
    '/v1/runs',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['runs'],
        summary: 'List runs (newest first, keyset-paged)',
        querystring: ListRunsQuery,
        response: { 200: RunList, ...ErrorResponses },
      },
    },
    async (request) => {
      const query = request.query;
      const limit = query.limit ?? 50;
      // A scoped token asking for a lane or template outside its scope is told so; otherwise it sees
      // only its own lanes' and templates' runs.
      const scope = request.principal!;
      if (query.lane) assertLane(scope, query.lane, 'query.lane');
      if (query.template) assertTemplate(scope, query.template, 'query.template');
      const runs = await listRuns(app.db, {
        ...query,
        ...(scope.lanes ? { lanes: scope.lanes } : {}),
        ...(scope.templates ? { templates: scope.templates } : {}),
        params: paramsFilter(query.params),
        limit: limit + 1,
        cursor: query.cursor ? decodeCursor(query.cursor) : undefined,
      });
      const page = runs.slice(0, limit);
      return {
        runs: await wire(page),
        next_cursor: runs.length > limit ? encodeCursor(page[page.length - 1]!) : null,
      };
    },
  );

  app.get(
    '/v1/runs/:id',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['runs'],
        summary: 'A run with its steps',
        params: IdParams,
        response: { 200: RunDetail, ...ErrorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const run = await runInScope(request, id);
      const [wired] = await wire([run]);
      return { run: wired!, steps: (await getRunSteps(app.db, id)).map(stepToWire) };
    },
  );

  app.post(
    '/v1/runs/:id/cancel',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['runs'],
        summary: 'Cancel a run (queued: at once; running: the worker stops it)',
        headers: IdempotencyHeaders,
        params: IdParams,
        response: { 200: RunResponse, ...ErrorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (isScoped(request.principal!)) await runInScope(request, id);
      const idempotency = idempotencyOf(request);
      // Hashed: the key lands in the run's events, which every viewer may read.
      const key = idempotency ? actionKey(idempotency, `cancel:${id}`) : undefined;
      const result = await cancelRun(app.db, id, request.principal?.name ?? 'unknown', key);
      if (result.outcome === 'not_found') throw notFound('run');
      // A replay of the cancel that finished this run is answered like the first time, not as a conflict.
      if (result.outcome === 'already_finished' && !(key && (await cancelledWithKey(app.db, id, key))))
        throw apiError('conflict', `run is already ${result.run.status}`, { status: result.run.status });
      if (result.outcome === 'cancelled') app.metrics.runsFinished.inc({ status: 'cancelled' });
      const [run] = await wire([result.run]);
      return { run: run! };
    },
  );

  app.post(
    '/v1/runs/:id/retry',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['runs'],
        summary: 'Retry a failed or cancelled run as a new run',
        headers: IdempotencyHeaders,
        params: IdParams,
        response: { 200: RunResponse, 201: RunResponse, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (isScoped(request.principal!)) await runInScope(request, id);
      const idempotency = idempotencyOf(request);
      // Retry keys share create's key space (and its unique index): one key, one new run, whichever route.
      const fingerprint = requestFingerprint({ retry_of: id }, 0, 1);
      const result = await retryRun(
        app.db,
        id,
        idempotency ? { key: `${idempotency.tokenId}:${idempotency.key}`, fingerprint } : undefined,
      );
      if (result.outcome === 'not_found') throw notFound('run');
      if (result.outcome === 'not_retryable')
        throw apiError(
          'conflict',
          `only failed or cancelled runs can be retried (run is ${result.run.status})`,
        );
      if (result.outcome === 'replayed' && result.run.idempotency_fingerprint !== fingerprint)
        throw apiError(
          'idempotency_conflict',
          'idempotency-key: already used for a different request; use a new key for a new request',
          { run_id: result.run.id },
        );
      if (result.outcome === 'created') app.metrics.runsCreated.inc();
      const [run] = await wire([result.run]);
      return reply.code(result.outcome === 'created' ? 201 : 200).send({ run: run! });
    },
  );

  app.get(
    '/v1/runs/:id/events',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['runs'],
        summary: 'Events after a seq',
        params: IdParams,
        querystring: EventsQuery,
        response: { 200: EventList, ...ErrorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const query = request.query;
      const run = await runInScope(request, id);
      const events = await readEvents(app.db, {
        runId: id,
        afterSeq: query.after_seq,
        limit: query.limit,
        levels: query.level?.split(','),
        q: query.q,
      });
      return { events: events.map(eventToWire), last_seq: run.last_seq };
    },
  );

  app.get(
    '/v1/runs/:id/artifacts',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['artifacts'],
        summary: "A run's artifacts",
        params: IdParams,
        response: { 200: ArtifactList, ...ErrorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      await runInScope(request, id);
      return { artifacts: (await listArtifacts(app.db, id)).map(artifactToWire) };
    },
  );

  app.get(
    '/v1/runs/:id/export',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['runs'],
        summary: 'Export a run with steps, events and artifacts (json or markdown)',
        params: IdParams,
        querystring: ExportQuery,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const format = request.query.format ?? 'json';
      const run = await runInScope(request, id);
      const [wired] = await wire([run]);
      const events: ReturnType<typeof eventToWire>[] = [];
      for (let after = 0; ;) {
        const page = await readEvents(app.db, { runId: id, afterSeq: after, limit: 5000 });
        events.push(...page.map(eventToWire));
        if (page.length < 5000) break;
        after = page[page.length - 1]!.seq;
      }
      const doc = {
        run: wired!,
        steps: (await getRunSteps(app.db, id)).map(stepToWire),
        events,
        artifacts: (await listArtifacts(app.db, id)).map(artifactToWire),
      };
      const filename = `run-${id}.${format === 'markdown' ? 'md' : 'json'}`;
      reply.header('content-disposition', `attachment; filename="${filename}"`);
      if (format === 'markdown')
        return reply.type('text/markdown; charset=utf-8').send(renderRunMarkdown(doc));
      return reply.type('application/json').send(doc);
    },
  );
}
