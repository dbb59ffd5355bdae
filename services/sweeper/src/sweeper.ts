import { EventEmitter, once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { finishAbandonedCancels, findStaleRuns, sweepStaleRuns, type Database, type StaleRun } from '@ocr/db';
import { Loop, type Logger } from '@ocr/runtime';
import type { SweeperConfig } from './config.js';
import { LeaderLease, type MonotonicClock } from './leader-lease.js';
import { createSweeperMetrics, type SweeperMetrics } from './metrics.js';
import { Retention, type ObjectRemover, type PruneReport } from './retention.js';
import { WarmUpGate } from './warm-up.js';

/** The name of the sweeper's row in `leader_leases`. */
export const LEADERSHIP = 'sweeper';

/** What one tick did, for logs, tests and /readyz. */
export interface TickReport {
  /** The database answered the lease renewal. */
  reachable: boolean;
  /** This replica held the lease during the tick. */
  leader: boolean;
  /** Leader, but still giving workers a heartbeat timeout to be heard (after start, takeover or outage). */
  warmingUp: boolean;
  /** Stale runs seen, requeued, failed, and left alone because their worker won the race. */
  stale: number;
  requeued: number;
  failed: number;
  racesLost: number;
  cancelsFinished: number;
  /** The leader stopped mid-tick because its lease ran out on its own clock. */
  lapsed: boolean;
  /** What retention deleted in this tick (absent when no pass was due). */
  pruned?: PruneReport;
}

/** What a sweeper needs. `registry` receives its metrics; `clock` is for tests that simulate a frozen process. */
export interface SweeperDeps {
  db: Kysely<Database>;
  log: Logger;
  config: Readonly<SweeperConfig>;
  registry: Registry;
  clock?: MonotonicClock;
  /** Deletes artifact objects of expired runs; without it, runs with S3 artifacts are kept. */
  removeObjects?: ObjectRemover;
  /** Time a retention pass may take per tick; default the sweep interval, at least 1 s. */
  retentionBudgetMs?: number;
}

const emptyReport = (): TickReport => ({
  reachable: false,
  leader: false,
  warmingUp: false,
  stale: 0,
  requeued: 0,
  failed: 0,
  racesLost: 0,
  cancelsFinished: 0,
  lapsed: false,
});

/**
 * The rescuer. Every OCR_SWEEP_INTERVAL_S: renew (or try to take) the leadership lease; as leader, page
 * through runs whose heartbeat is older than the timeout (database clock) and requeue or fail each page with
 * a compare-and-set on exactly what it saw; then finish cancellations nobody acknowledged. Emits `tick`
 * with a TickReport after every tick, so tests await progress instead of sleeping.
 *
 * Two guards keep it from doing harm. The lease is checked on our own monotonic clock right before every
 * write, so a leader that was frozen or could not renew stops acting at once. And the warm-up gate keeps a
 * replica that just started, just regained the database, or stopped watching for a while (frozen) from
 * judging anyone until workers have had a full heartbeat timeout to be heard. Taking over the lease is not
 * such a reason: a follower that has watched the database answer all along knows workers could heartbeat,
 * so a new leader sweeps at once (a dead leader costs its lease TTL, not TTL + heartbeat timeout). Correctness of each run never rests on leadership alone: every sweep is a
 * CAS on (status, lease token, heartbeat), so a worker that completes or heartbeats first always wins.
 */
export class Sweeper extends EventEmitter {
  readonly metrics: SweeperMetrics;
  private readonly loop: Loop;
  private readonly lease: LeaderLease;
  private readonly gate: WarmUpGate;
  private readonly clock: MonotonicClock;
  private readonly watchGapMs: number;
  private readonly retention: Retention;
  private leading = false;
  /** Our clock when the database last answered a renewal (-Infinity: never). */
  private lastAnswerAt = -Infinity;
  private lastReport: TickReport | undefined;

  constructor(private readonly deps: SweeperDeps) {
    super();
    const clock = deps.clock ?? (() => performance.now());
    const { config } = deps;
    this.lease = new LeaderLease(deps.db, {
      name: LEADERSHIP,
      holder: config.OCR_SWEEPER_ID,
      ttlS: config.leaderTtlS,
      clock,
    });
    this.clock = clock;
    this.gate = new WarmUpGate(config.OCR_HEARTBEAT_TIMEOUT_S * 1000, clock);
    // The longest blind spot after which a new leader may still sweep at once: a database outage hidden in a
    // shorter one cannot make a live run look stale (its worker beat at most an interval before the outage
    // began, and the timeout has not passed since).
    this.watchGapMs = (config.OCR_HEARTBEAT_TIMEOUT_S - config.OCR_HEARTBEAT_INTERVAL_S) * 1000;
    this.metrics = createSweeperMetrics(deps.registry, () => this.isLeader);
    this.retention = new Retention({
      db: deps.db,
      log: deps.log,
      config,
      metrics: this.metrics,
      removeObjects: deps.removeObjects,
      clock,
    });
    this.loop = new Loop(
      'sweeper',
      () => config.OCR_SWEEP_INTERVAL_S * 1000,
      (signal) => this.tick(signal),
      deps.log,
    );
  }

  /** True while this replica holds an unexpired lease by its own clock. */
  get isLeader(): boolean {
    return this.leading && this.lease.held;
  }

  /** The last tick's report (undefined before the first tick ends). */
  get last(): TickReport | undefined {
    return this.lastReport;
  }

  start(): void {
    this.loop.start();
  }

  /** Run the next tick now instead of waiting out the interval. */
  wake(): void {
    this.loop.wake();
  }

  /** Resolve with the report of the next tick to finish. */
  async nextTick(): Promise<TickReport> {
    const [report] = (await once(this, 'tick')) as [TickReport];
    return report;
  }

  /** Stop the loop (after its current tick) and resign leadership so another replica takes over at once. */
  async stop(): Promise<void> {
    await this.loop.stop();
    if (this.leading) {
      this.stepDown('stopping: resigning sweeper leadership');
      await this.lease
        .resign()
        .catch((err: unknown) => this.deps.log.warn({ err }, 'could not resign sweeper leadership'));
    }
  }

  /**
   * Something outside the tick saw the database fail (an idle pool client died). Treat it as an outage:
   * stop acting and wait a heartbeat timeout after the database answers again.
   */
  noteDatabaseTrouble(err: unknown): void {
    this.gate.close();
    if (this.leading) this.stepDown('database trouble: stepping down until it answers', err);
  }

  /** One pass; the loop calls it, tests may too. Never throws: a failed tick is reported and logged. */
  async tick(signal?: AbortSignal): Promise<TickReport> {
    const report = emptyReport();
    const endTimer = this.metrics.tickSeconds.startTimer();
    try {
      if (!(await this.renewLeadership(report))) return report;
      if (!this.gate.open) {
        report.warmingUp = true;
        return report;
      }
      if (!(await this.sweepStale(report, signal))) return report;
      await this.finishCancels(report, signal);
      // Retention last and on a time budget: rescuing runs always comes first.
      if (this.retention.due) {
        const budgetMs =
          this.deps.retentionBudgetMs ?? Math.max(this.deps.config.OCR_SWEEP_INTERVAL_S * 1000, 1000);
        report.pruned = await this.retention.pass(() => this.stillLeading(report), budgetMs, signal);
      }
      return report;
    } catch (err) {
      this.metrics.tickErrors.inc();
      this.gate.close();
      if (this.leading) this.stepDown('sweeper tick failed: stepping down until the database answers', err);
      else this.deps.log.warn({ err }, 'sweeper tick failed');
      report.leader = false;
      return report;
    } finally {
      endTimer();
      this.lastReport = report;
      this.emit('tick', report);
    }
  }

  /** Renew or take the lease; returns whether this replica may act as leader in this tick. */
  private async renewLeadership(report: TickReport): Promise<boolean> {
    const { config, log } = this.deps;
    const heldBefore = this.isLeader;
    const asked = this.clock();
    const blindMs = asked - this.lastAnswerAt;
    const held = await this.lease.renew();
    report.reachable = true;
    this.lastAnswerAt = this.clock();
    if (this.gate.remainingMs === Infinity) {
      this.gate.restart();
      log.info(
        { waitS: config.OCR_HEARTBEAT_TIMEOUT_S },
        'database reachable: giving workers a heartbeat timeout before sweeping',
      );
    }
    if (!held) {
      if (this.leading) this.stepDown('lost sweeper leadership');
      return false;
    }
    if (!heldBefore) {
      // Fresh leadership (first time, after a takeover, or after our own lease lapsed). The gate already
      // holds the sweep until this replica has watched the database answer for a full heartbeat timeout
      // (since start or an outage), so a follower that has, sweeps now. Unless it was blind for a while just
      // before (frozen, or its ticks starved): the database may have been down meanwhile unnoticed.
      if (blindMs > this.watchGapMs) this.gate.close();
      if (this.gate.remainingMs === Infinity) this.gate.restart();
      this.leading = true;
      log.info(
        {
          holder: config.OCR_SWEEPER_ID,
          ttlS: config.leaderTtlS,
          warmUpLeftS: this.gate.remainingMs / 1000,
        },
        'became sweeper leader',
      );
    }
    report.leader = true;
    return true;
  }

  /**
   * Right before each write: are we still the leader by our own clock? Renew first when half the TTL has
   * gone (a long backlog), so a healthy leader is not interrupted; a lapsed one stops.
   */
  private async stillLeading(report: TickReport): Promise<boolean> {
    if (this.lease.held && this.lease.dueForRenewal) {
      await this.lease.renew();
      this.lastAnswerAt = this.clock();
    }
    if (this.isLeader) return true;
    report.lapsed = true;
    report.leader = false;
    this.stepDown('sweeper leadership lapsed mid-tick: stopping before acting');
    return false;
  }

  /** Page through stale runs (keyset, bounded batches) and sweep each page; false if we stopped leading. */
  private async sweepStale(report: TickReport, signal?: AbortSignal): Promise<boolean> {
    const { config, db, log } = this.deps;
    const metrics = this.metrics;
    let after: { heartbeat_at: Date; id: string } | undefined;
    for (;;) {
      const page: StaleRun[] = await findStaleRuns(db, {
        timeoutS: config.OCR_HEARTBEAT_TIMEOUT_S,
        limit: config.OCR_SWEEP_BATCH,
        after,
      });
      if (page.length === 0) return true;
      report.stale += page.length;
      metrics.stuck.inc(page.length);
      if (!(await this.stillLeading(report))) return false;
      const swept = await sweepStaleRuns(db, page);
      for (const run of swept) {
        const runLog = log.child({ runId: run.id, lane: run.lane, attempt: run.attempt });
        if (run.action === 'requeued') {
          report.requeued++;
          metrics.requeued.inc();
          metrics.recovery.observe(run.silent_s);
          runLog.warn(
            { silentS: run.silent_s, infraLosses: run.infra_losses, runAt: run.run_at },
            'stale run requeued',
          );
        } else {
          report.failed++;
          metrics.failed.inc();
          runLog.error(
            { silentS: run.silent_s, infraLosses: run.infra_losses, status: run.status },
            'stale run failed',
          );
        }
      }
      const lost = page.length - swept.length;
      report.racesLost += lost;
      metrics.raced.inc(lost);
      if (page.length < config.OCR_SWEEP_BATCH || signal?.aborted) return true;
      const last = page[page.length - 1]!;
      after = { heartbeat_at: last.heartbeat_at, id: last.id };
    }
  }

  /** Finish cancellations no worker acknowledged within the grace, a bounded batch at a time. */
  private async finishCancels(report: TickReport, signal?: AbortSignal): Promise<void> {
    const { config, db, log } = this.deps;
    for (;;) {
      if (!(await this.stillLeading(report))) return;
      const cancelled = await finishAbandonedCancels(db, {
        graceS: config.OCR_CANCEL_GRACE_S,
        limit: config.OCR_SWEEP_BATCH,
      });
      report.cancelsFinished += cancelled.length;
      this.metrics.cancels.inc(cancelled.length);
      for (const run of cancelled)
        log.warn({ runId: run.id, lane: run.lane }, 'unacknowledged cancel finished');
      if (cancelled.length < config.OCR_SWEEP_BATCH || signal?.aborted) return;
    }
  }

  private stepDown(msg: string, err?: unknown): void {
    this.leading = false;
    this.lease.drop();
    this.deps.log.warn(err === undefined ? {} : { err }, msg);
  }
}

/** Build a sweeper (not started): the factory tests and `startSweeper` share. */
export function createSweeper(deps: SweeperDeps): Sweeper {
  return new Sweeper(deps);
}
