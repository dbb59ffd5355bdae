import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The sweeper's Prometheus metrics, registered in the registry it is given (one per process, served on
 * /metrics). `isLeader` is read at scrape time, so the gauge never shows a lease that lapsed while a query hung.
 */
export function createSweeperMetrics(registry: Registry, isLeader: () => boolean) {
  return {
    stuck: new Counter({
      name: 'ocr_sweeper_stuck_runs_total',
      help: 'Running runs seen with a heartbeat older than the timeout (each sighting)',
      registers: [registry],
    }),
    requeued: new Counter({
      name: 'ocr_sweeper_requeued_total',
      help: 'Stale runs requeued',
      registers: [registry],
    }),
    failed: new Counter({
      name: 'ocr_sweeper_failed_total',
      help: 'Stale runs failed with heartbeat_timeout (infrastructure budget spent) or cancelled',
      registers: [registry],
    }),
    raced: new Counter({
      name: 'ocr_sweeper_races_lost_total',
      help: 'Stale sightings left alone because the worker heartbeated or completed first',
      registers: [registry],
    }),
    cancels: new Counter({
      name: 'ocr_sweeper_cancels_finished_total',
      help: 'Cancellations finished because no worker acknowledged them within the grace',
      registers: [registry],
    }),
    recovery: new Histogram({
      name: 'ocr_sweeper_recovery_seconds',
      help: 'Time from the last heartbeat of a lost run to its requeue',
      buckets: [1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300],
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'ocr_sweeper_leader',
      help: '1 while this replica holds the sweeper leadership lease',
      registers: [registry],
      collect() {
        this.set(isLeader() ? 1 : 0);
      },
    }),
    tickSeconds: new Histogram({
      name: 'ocr_sweeper_tick_seconds',
      help: 'Duration of one sweeper tick (lease renewal, stale pages, cancels)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    retentionDeleted: new Counter({
      name: 'ocr_retention_deleted_total',
      help: 'Rows and objects deleted by retention, by kind (runs, events, objects)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    retentionBatchSeconds: new Histogram({
      name: 'ocr_retention_batch_seconds',
      help: 'Duration of one retention batch (one short transaction or one DeleteObjects round)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    tickErrors: new Counter({
      name: 'ocr_sweeper_tick_errors_total',
      help: 'Ticks that failed (database unreachable or erroring)',
      registers: [registry],
    }),
  };
}

/** The metric handles the sweeper updates. */
export type SweeperMetrics = ReturnType<typeof createSweeperMetrics>;
