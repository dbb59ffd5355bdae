import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The sweeper's Prometheus metrics. */
export function createSweeperMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ocr_sweeper_process_' });
  return {
    registry,
    stuck: new Counter({ name: 'ocr_sweeper_stuck_runs_total', help: 'Running runs found with a stale heartbeat', registers: [registry] }),
    requeued: new Counter({ name: 'ocr_sweeper_requeued_total', help: 'Stale runs requeued', registers: [registry] }),
    failed: new Counter({ name: 'ocr_sweeper_failed_total', help: 'Stale runs failed (heartbeat_timeout, infrastructure budget spent)', registers: [registry] }),
    cancels: new Counter({ name: 'ocr_sweeper_cancels_finished_total', help: 'Cancellations finished because no worker acknowledged them', registers: [registry] }),
    recovery: new Histogram({
      name: 'ocr_sweeper_recovery_seconds',
      help: 'Heartbeat lost to requeued',
      buckets: [1, 2, 5, 10, 15, 20, 30, 60, 120, 300],
      registers: [registry],
    }),
    leader: new Gauge({ name: 'ocr_sweeper_leader', help: '1 while this replica leads', registers: [registry] }),
    tickSeconds: new Histogram({ name: 'ocr_sweeper_tick_seconds', help: 'Sweep tick duration', buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] }),
  };
}
export type SweeperMetrics = ReturnType<typeof createSweeperMetrics>;
