import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  closeSession,
  createSession,
  createToken,
  getSession,
  getSpecDoc,
  laneOverview,
  laneRuns,
  listSessions,
  listSpecDocs,
  listTokens,
  listWorkers,
  revokeToken,
  updateLane,
  type SessionRow,
} from '@ocr/db';
import {
  CreateSession,
  CreateToken,
  CreatedToken,
  ErrorResponses,
  IdParams,
  LaneList,
  LaneMetrics,
  LaneParams,
  Session,
  SessionList,
  SpecDoc,
  SpecDocList,
  SpecDocsQuery,
  TokenInfo,
  TokenList,
  UpdateLane,
  WhoAmI,
  WorkerList,
} from '@ocr/contracts';
import { notFound, apiError } from '../errors.js';
import { buildLanes } from './lanes-view.js';
import { specDocToWire } from '../serialize.js';
import { laneAllowed, lanesInScope } from '../scope.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const sessionToWire = (s: SessionRow) => ({
  id: s.id,
  name: s.name,
  status: s.status,
  labels: s.labels,
  created_at: s.created_at.toISOString(),
  closed_at: iso(s.closed_at),
});
/** Lanes, sessions, the worker fleet, spec docs, tokens and whoami. */
export async function adminRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/v1/whoami',
    {
      config: { role: 'any' },
      schema: {
        tags: ['tokens'],
        summary: 'The calling token',
        response: { 200: WhoAmI, ...ErrorResponses },
      },
    },
    async (request) => ({
      token_id: request.principal!.tokenId,
      name: request.principal!.name,
      role: request.principal!.role,
      lanes: request.principal!.lanes,
      templates: request.principal!.templates,
    }),
  );

  app.get(
    '/v1/lanes',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['lanes'],
        summary: 'Lanes with depth, running, oldest wait, workers, active runs',
        response: { 200: LaneList, ...ErrorResponses },
      },
    },
    async (request) => ({
      lanes: lanesInScope(request.principal!, buildLanes(await laneOverview(app.db), await laneRuns(app.db))),
    }),
  );

  app.get(
    '/v1/lanes/metrics',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['lanes'],
        summary: 'Per-lane depth for autoscalers (KEDA metrics-api)',
        response: { 200: LaneMetrics, ...ErrorResponses },
      },
    },
    async (request) => {
      const lanes: Record<string, { depth: number; running: number; oldest_wait_s: number }> = {};
      for (const lane of await laneOverview(app.db))
        if (laneAllowed(request.principal!, lane.name))
          lanes[lane.name] = {
            depth: lane.depth,
            running: lane.running,
            oldest_wait_s: lane.oldest_queued_age_s ?? 0,
          };
      return { lanes };
    },
  );

  app.put(
    '/v1/lanes/:name',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['lanes'],
        summary: 'Set max_concurrency (null: unlimited) and paused',
        params: LaneParams,
        body: UpdateLane,
        response: { 200: LaneList, ...ErrorResponses },
      },
    },
    async (request) => {
      const { name } = request.params;
      await updateLane(app.db, name, request.body);
      // A cap raised or a lane resumed may let parked claims through.
      await app.pool.query('SELECT pg_notify($1, $2)', ['ocr_enqueue', name]);
      const lanes = buildLanes(await laneOverview(app.db), await laneRuns(app.db));
      return { lanes: lanes.filter((l) => l.name === name) };
    },
  );

  app.get(
    '/v1/sessions',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['sessions'],
        summary: 'Sessions, newest first',
        response: { 200: SessionList, ...ErrorResponses },
      },
    },
    async () => ({
      sessions: (await listSessions(app.db)).map(sessionToWire),
    }),
  );
  app.post(
    '/v1/sessions',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['sessions'],
        summary: 'Open a session',
        body: CreateSession,
        response: { 201: Session, ...ErrorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(sessionToWire(await createSession(app.db, request.body))),
  );
  app.get(
    '/v1/sessions/:id',
    {
      config: { role: 'viewer' },
      schema: { tags: ['sessions'], params: IdParams, response: { 200: Session, ...ErrorResponses } },
    },
    async (request) => {
      const session = await getSession(app.db, request.params.id);
      if (!session) throw notFound('session');
      return sessionToWire(session);
    },
  );
  app.post(
    '/v1/sessions/:id/close',
    {
      config: { role: 'operator' },
      schema: { tags: ['sessions'], params: IdParams, response: { 200: Session, ...ErrorResponses } },
    },
    async (request) => {
      const { id } = request.params;
      const closed = await closeSession(app.db, id);
      if (closed) return sessionToWire(closed);
      const session = await getSession(app.db, id);
      if (!session) throw notFound('session');
      throw apiError('conflict', 'session is already closed');
    },
  );

  app.get(
    '/v1/workers',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['workers'],
        summary: 'The worker fleet',
        response: { 200: WorkerList, ...ErrorResponses },
      },
    },
    async () => ({
      workers: (await listWorkers(app.db)).map((w) => ({
        id: w.id,
        boot_id: w.boot_id,
        lanes: w.lanes,
        version: w.version,
        concurrency: w.concurrency,
        started_at: w.started_at.toISOString(),
        last_seen_at: w.last_seen_at.toISOString(),
        live: w.live,
        running: w.running,
      })),
    }),
  );

  app.get(
    '/v1/spec-docs',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['spec docs'],
        summary: 'Latest version of each spec document',
        querystring: SpecDocsQuery,
        response: { 200: SpecDocList, ...ErrorResponses },
      },
    },
    async (request) => ({
      spec_docs: (await listSpecDocs(app.db, request.query.project)).map(specDocToWire),
    }),
  );
  app.get(
    '/v1/spec-docs/:id',
    {
      config: { role: 'viewer' },
      schema: { tags: ['spec docs'], params: IdParams, response: { 200: SpecDoc, ...ErrorResponses } },
    },
    async (request) => {
      const doc = await getSpecDoc(app.db, request.params.id);
      if (!doc) throw notFound('spec doc');
      return specDocToWire(doc);
    },
  );

  const tokenToWire = (t: Awaited<ReturnType<typeof listTokens>>[number]) => ({
    id: t.id,
    name: t.name,
    role: t.role,
    lanes: t.lanes,
    templates: t.templates,
    prefix: t.prefix,
    created_at: t.created_at.toISOString(),
    last_used_at: iso(t.last_used_at),
    revoked_at: iso(t.revoked_at),
  });
  app.get(
    '/v1/tokens',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['tokens'],
        summary: 'Tokens (never their values)',
        response: { 200: TokenList, ...ErrorResponses },
      },
    },
    async () => ({
      tokens: (await listTokens(app.db)).map(tokenToWire),
    }),
  );
  app.post(
    '/v1/tokens',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['tokens'],
        summary: 'Create a token; its value is shown once',
        body: CreateToken,
        response: { 201: CreatedToken, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const { role, lanes, templates } = request.body;
      // An admin can mint any token, so limiting one would isolate nothing; a worker claims by lane only.
      if (role === 'admin' && (lanes || templates))
        throw apiError('validation_failed', 'lanes, templates: an admin token cannot be limited', [
          { field: lanes ? 'lanes' : 'templates', message: 'not allowed for the admin role' },
        ]);
      if (role === 'worker' && templates)
        throw apiError(
          'validation_failed',
          'templates: a worker token is limited by lanes only (it claims from lanes, not templates)',
          [{ field: 'templates', message: 'not allowed for the worker role' }],
        );
      const { row, token } = await createToken(app.db, request.body);
      return reply.code(201).send({
        id: row.id,
        name: row.name,
        role: row.role,
        lanes: row.lanes,
        templates: row.templates,
        token,
      });
    },
  );
  app.delete(
    '/v1/tokens/:id',
    {
      config: { role: 'admin' },
      schema: { tags: ['tokens'], params: IdParams, response: { 200: TokenInfo, ...ErrorResponses } },
    },
    async (request) => {
      const { id } = request.params;
      if (!(await revokeToken(app.db, id))) throw notFound('token');
      // This replica forgets it now and closes its sockets; the others within OCR_AUTH_CACHE_MS.
      app.tokenRevoked(id);
      const row = (await listTokens(app.db)).find((t) => t.id === id)!;
      return tokenToWire(row);
    },
  );
}
