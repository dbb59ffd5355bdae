import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The worker's Prometheus metrics, on a registry of its own. */
export interface WorkerMetrics {
  registry: Registry;
  running: Gauge;
  runs: Counter<'end'>;
  heartbeats: Counter<'result'>;
  claimSeconds: Histogram;
}

export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ocr_worker_process_' });
  return {
    registry,
    running: new Gauge({
      name: 'ocr_worker_running_runs',
      help: 'Runs this worker is executing',
      registers: [registry],
    }),
    runs: new Counter({
      name: 'ocr_worker_runs_total',
      help: 'Run attempts finished, by ending',
      labelNames: ['end'],
      registers: [registry],
    }),
    heartbeats: new Counter({
      name: 'ocr_worker_heartbeats_total',
      help: 'Heartbeat requests, by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    claimSeconds: new Histogram({
      name: 'ocr_worker_claim_seconds',
      help: 'Claim request duration (long-polls included)',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    }),
  };
}
