import type { FastifyInstance } from 'fastify';
import { laneOverview, ping } from '@ocr/db';

/** `/healthz` (process alive), `/readyz` (database reachable), `/metrics` (Prometheus). */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  const hide = { hide: true };
  app.get('/healthz', { config: { role: 'public' }, schema: hide }, async () => ({ status: 'ok', listener: app.listener.connected }));
  app.get('/readyz', { config: { role: 'public' }, schema: hide }, async (_request, reply) => {
    try {
      await ping(app.db);
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'not_ready', error: { code: 'db_unavailable', message: 'database unreachable' } });
    }
  });
  app.get('/metrics', { config: { role: 'public' }, schema: hide }, async (_request, reply) => {
    // Lane gauges are read at scrape time so they are never stale.
    try {
      const lanes = await laneOverview(app.db);
      for (const lane of lanes) {
        app.metrics.laneDepth.set({ lane: lane.name }, lane.depth);
        app.metrics.laneOldest.set({ lane: lane.name }, lane.oldest_queued_age_s ?? 0);
        app.metrics.laneRunning.set({ lane: lane.name }, lane.running);
        app.metrics.laneWorkers.set({ lane: lane.name }, lane.workers_live);
      }
    } catch {
      // metrics still answer with what they have when the database is down
    }
    app.metrics.wsConnections.set(app.hub.connections);
    return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics());
  });
}
