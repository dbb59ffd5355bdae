import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import {
  acquireLeadership,
  finishAbandonedCancels,
  findStaleRuns,
  resignLeadership,
  sweepStaleRuns,
  type Database,
  type StaleRun,
} from '@ocr/db';
import { Loop, type Logger } from '@ocr/runtime';
import type { SweeperConfig } from './config.js';
import type { SweeperMetrics } from './metrics.js';

export const LEADERSHIP = 'sweeper';

/** What one tick did, for logs, metrics and tests. */
export interface TickReport {
  leader: boolean;
  warmingUp: boolean;
  stale: number;
  requeued: number;
  failed: number;
  cancelsFinished: number;
}

export interface SweeperDeps {
  db: Kysely<Database>;
  config: Readonly<SweeperConfig>;
  log: Logger;
  metrics: SweeperMetrics;
}

/**
 * The rescuer. Every interval: renew (or try to take) the leadership lease; as leader, page through runs
 * whose heartbeat is older than the timeout and requeue or fail each with a compare-and-set on what it
 * saw; finish cancellations nobody acknowledged. Emits `tick` with a TickReport.
 *
 * Safety: a leader acts only while its lease is valid by its OWN monotonic clock (measured from before the
 * renewal request), so a process frozen past its TTL wakes up knowing it may no longer act. And after
 * becoming leader, or after the database was unreachable, it waits one full heartbeat timeout before
 * judging anyone stale: workers must get the chance to be heard again (no mass false requeue).
 */
export class Sweeper extends EventEmitter {
  private readonly loop: Loop;
  private leading = false;
  private leaseValidUntil = 0;
  private warmUntil = 0;
  private dbWasDown = false;

  constructor(private readonly deps: SweeperDeps) {
    super();
    this.loop = new Loop('sweeper', () => deps.config.OCR_SWEEP_INTERVAL_S * 1000, () => this.tick(), deps.log);
  }

  get isLeader(): boolean {
    return this.leading && performance.now() < this.leaseValidUntil;
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    if (this.leading) {
      this.leading = false;
      this.deps.metrics.leader.set(0);
      await resignLeadership(this.deps.db, { name: LEADERSHIP, holder: this.deps.config.OCR_SWEEPER_ID }).catch(() => undefined);
    }
  }

  /** One pass (the loop calls it; tests may too). */
  async tick(): Promise<TickReport> {
    const { config, log, metrics } = this.deps;
    const report: TickReport = { leader: false, warmingUp: false, stale: 0, requeued: 0, failed: 0, cancelsFinished: 0 };
    const end = metrics.tickSeconds.startTimer();
    try {
      const asked = performance.now();
      const expires = await acquireLeadership(this.deps.db, { name: LEADERSHIP, holder: config.OCR_SWEEPER_ID, ttlS: config.leaderTtlS });
      const now = performance.now();
      if (this.dbWasDown) {
        this.dbWasDown = false;
        this.warmUntil = now + config.OCR_HEARTBEAT_TIMEOUT_S * 1000;
        log.info({ waitS: config.OCR_HEARTBEAT_TIMEOUT_S }, 'database is back: giving workers a heartbeat timeout before sweeping');
      }
      if (!expires) {
        if (this.leading) log.warn('lost sweeper leadership');
        this.leading = false;
        metrics.leader.set(0);
        return report;
      }
      if (!this.leading) {
        this.leading = true;
        this.warmUntil = Math.max(this.warmUntil, now + config.OCR_HEARTBEAT_TIMEOUT_S * 1000);
        log.info({ holder: config.OCR_SWEEPER_ID, ttlS: config.leaderTtlS }, 'became sweeper leader');
      }
      this.leaseValidUntil = asked + config.leaderTtlS * 1000;
      metrics.leader.set(1);
      report.leader = true;
      if (now < this.warmUntil) {
        report.warmingUp = true;
        return report;
      }
      await this.sweepStale(report);
      if (this.isLeader) {
        const cancelled = await finishAbandonedCancels(this.deps.db, { graceS: config.OCR_CANCEL_GRACE_S, limit: config.OCR_SWEEP_BATCH });
        report.cancelsFinished = cancelled.length;
        metrics.cancels.inc(cancelled.length);
        for (const run of cancelled) log.warn({ runId: run.id }, 'cancel unacknowledged: run cancelled');
      }
      return report;
    } catch (err) {
      this.dbWasDown = true;
      if (this.leading) log.warn({ err }, 'sweeper tick failed; stepping down until the database answers');
      else log.warn({ err }, 'sweeper tick failed');
      this.leading = false;
      metrics.leader.set(0);
      return report;
    } finally {
      end();
      this.emit('tick', report);
    }
  }

  private async sweepStale(report: TickReport): Promise<void> {
    const { config, db, log, metrics } = this.deps;
    let after: { heartbeat_at: Date; id: string } | undefined;
    for (;;) {
      const page: StaleRun[] = await findStaleRuns(db, { timeoutS: config.OCR_HEARTBEAT_TIMEOUT_S, limit: config.OCR_SWEEP_BATCH, after });
      if (page.length === 0) return;
      report.stale += page.length;
      metrics.stuck.inc(page.length);
      // Re-check the lease on our own clock right before acting: a process that was frozen must not act.
      if (!this.isLeader) {
        log.warn('leadership lease lapsed mid-sweep: stopping');
        return;
      }
      const swept = await sweepStaleRuns(db, page);
      for (const run of swept) {
        if (run.action === 'requeued') {
          report.requeued++;
          metrics.requeued.inc();
          metrics.recovery.observe(run.silent_s);
        } else {
          report.failed++;
          metrics.failed.inc();
        }
        log.warn({ runId: run.id, action: run.action, silentS: run.silent_s, infraLosses: run.infra_losses }, `stale run ${run.action}`);
      }
      if (page.length < config.OCR_SWEEP_BATCH) return;
      const last = page[page.length - 1]!;
      after = { heartbeat_at: last.heartbeat_at, id: last.id };
    }
  }
}
