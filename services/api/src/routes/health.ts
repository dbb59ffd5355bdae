import type { FastifyInstance } from 'fastify';
import { laneOverview, ping } from '@ocr/db';

/** Lane gauges are read from the database at most this often, however often /metrics is scraped. */
const LANE_GAUGES_MS = 5_000;

/**
 * `/healthz` (process alive), `/readyz` (database reachable): public, for probes. `/metrics` (Prometheus)
 * needs a token (viewer or above): it names lanes and counts, and each refresh queries every lane.
 */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  let lanesReadAt = 0;
  let reading: Promise<void> | undefined;
  const refreshLanes = async () => {
    const lanes = await laneOverview(app.db);
    for (const lane of lanes) {
      app.metrics.laneDepth.set({ lane: lane.name }, lane.depth);
      app.metrics.laneOldest.set({ lane: lane.name }, lane.oldest_queued_age_s ?? 0);
      app.metrics.laneRunning.set({ lane: lane.name }, lane.running);
      app.metrics.laneWorkers.set({ lane: lane.name }, lane.workers_live);
      for (const outcome of ['success', 'error', 'cancelled', 'pending'] as const)
        app.metrics.laneRecovered.set({ lane: lane.name, outcome }, lane[`recovered_${outcome}`]);
    }
    lanesReadAt = Date.now();
  };
  const hide = { hide: true };
  app.get('/healthz', { config: { role: 'public' }, schema: hide }, async () => ({
    status: 'ok',
    listener: app.listener.connected,
  }));
  app.get('/readyz', { config: { role: 'public' }, schema: hide }, async (_request, reply) => {
    try {
      await ping(app.db);
      return { status: 'ready' };
    } catch {
      return reply
        .code(503)
        .send({ status: 'not_ready', error: { code: 'db_unavailable', message: 'database unreachable' } });
    }
  });
  app.get('/metrics', { config: { role: 'viewer' }, schema: hide }, async (_request, reply) => {
    // Lane gauges at most LANE_GAUGES_MS old; concurrent scrapes share one read.
    if (Date.now() - lanesReadAt >= LANE_GAUGES_MS) {
      reading ??= refreshLanes().finally(() => (reading = undefined));
      try {
        await reading;
      } catch {
        // metrics still answer with what they have when the database is down
      }
    }
    app.metrics.wsConnections.set(app.hub.connections);
    return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics());
  });
}
