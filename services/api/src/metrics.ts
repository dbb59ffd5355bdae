import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The API's Prometheus metrics (one registry per app, so tests can build several apps). */
export function createApiMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ocr_api_process_' });
  const lane = ['lane'] as const;
  return {
    registry,
    laneDepth: new Gauge({
      name: 'ocr_lane_queue_depth',
      help: 'Queued runs that are due, per lane',
      labelNames: lane,
      registers: [registry],
    }),
    laneOldest: new Gauge({
      name: 'ocr_lane_oldest_wait_seconds',
      help: 'Age of the oldest due queued run, per lane',
      labelNames: lane,
      registers: [registry],
    }),
    laneRunning: new Gauge({
      name: 'ocr_lane_running',
      help: 'Running runs, per lane',
      labelNames: lane,
      registers: [registry],
    }),
    laneWorkers: new Gauge({
      name: 'ocr_lane_workers_live',
      help: 'Live workers serving the lane',
      labelNames: lane,
      registers: [registry],
    }),
    laneRecovered: new Gauge({
      name: 'ocr_lane_recovered_runs',
      help: 'Runs the sweeper requeued after losing their worker, per lane, by outcome (success, error, cancelled, pending)',
      labelNames: ['lane', 'outcome'],
      registers: [registry],
    }),
    runsCreated: new Counter({ name: 'ocr_runs_created_total', help: 'Runs created', registers: [registry] }),
    runsFinished: new Counter({
      name: 'ocr_runs_finished_total',
      help: 'Runs finished, by status',
      labelNames: ['status'],
      registers: [registry],
    }),
    claimSeconds: new Histogram({
      name: 'ocr_claim_duration_seconds',
      help: 'Claim request duration, long-poll wait included',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'ocr_http_requests_total',
      help: 'HTTP requests',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpSeconds: new Histogram({
      name: 'ocr_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    wsConnections: new Gauge({
      name: 'ocr_ws_connections',
      help: 'Open WebSocket connections',
      registers: [registry],
    }),
    listenReconnects: new Counter({
      name: 'ocr_listen_reconnects_total',
      help: 'LISTEN connection re-establishments',
      registers: [registry],
    }),
  };
}
export type ApiMetrics = ReturnType<typeof createApiMetrics>;
