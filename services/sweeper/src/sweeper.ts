import { EventEmitter, once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { finishAbandonedCancels, findStaleRuns, sweepStaleRuns, type Database, type StaleRun } from '@ocr/db';
import { Loop, type Logger } from '@ocr/runtime';
import type { SweeperConfig } from './config.js';
import { LeaderLease, type MonotonicClock, type Renewal } from './leader-lease.js';
import { createSweeperMetrics, type SweeperMetrics } from './metrics.js';
import { Retention, type ObjectRemover, type PruneReport } from './retention.js';
import { WarmUpGate, type WarmUpReason } from './warm-up.js';

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
 * write, so a leader that was frozen or could not renew stops acting at once. And the warm-up gate keeps
 * the sweeper from judging anyone until workers have had a full heartbeat timeout to be heard, after the
 * replica started and after the DATABASE was unreachable or restarted.
 *
 * What needs a warm-up, and what does not. The warm-up exists for one danger: workers that could not write
 * their heartbeats because the database was away. That is a fact about the database, so it is measured
 * there: a failed query or a dead pooled connection (a restart or a broken path breaks the connections this
 * replica holds, and it sees that as soon as it runs again, however long it slept), and the server's start
 * time (`pg_postmaster_start_time()`, read with every renewal), which shows a restart even to a replica
 * that slept through it. A gap in this replica's OWN ticks (frozen, CPU-starved, a long GC) is not such a
 * fact: while it was not looking, the heartbeats kept landing in the database, and a heartbeat older than
 * the timeout on the database clock is stale whoever reads it. So taking over the lease, or renewing it
 * after it lapsed on our own clock, sweeps at once. An earlier version warmed up after any own gap longer
 * than timeout − interval; under CPU starvation every tick's gap was that long, each re-acquisition began a
 * new warm-up, and a leader went 30 s without sweeping (docs/reliability.md).
 *
 * Correctness of each run never rests on leadership alone: every sweep is a CAS on (status, lease token,
 * heartbeat), so a worker that completes or heartbeats first always wins.
 */
export class Sweeper extends EventEmitter {
  readonly metrics: SweeperMetrics;
  private readonly loop: Loop;
  private readonly lease: LeaderLease;
  private readonly gate: WarmUpGate;
  private readonly clock: MonotonicClock;
  private readonly retention: Retention;
  private leading = false;
  /** Our clock when the database last answered a renewal (-Infinity: never); for logs only. */
  private lastAnswerAt = -Infinity;
  /** The database server's start time (ms since epoch) as last read; a change means it restarted. */
  private databaseStartedAt: number | undefined;
  /** A warm-up is running (logged when it starts and when it ends). */
  private warming = false;
  private warmingSince = 0;
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
    this.gate.close('database unreachable');
    if (this.leading) this.stepDown('database trouble: stepping down until it answers', err);
  }

  /** One pass; the loop calls it, tests may too. Never throws: a failed tick is reported and logged. */
  async tick(signal?: AbortSignal): Promise<TickReport> {
    const report = emptyReport();
    const endTimer = this.metrics.tickSeconds.startTimer();
    try {
      const leading = await this.renewLeadership(report);
      // Followers warm up too (a takeover must not wait): the end is logged by whoever sees it.
      if (this.gate.open) this.noteWarmUpOver();
      if (!leading) return report;
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
      this.gate.close('database unreachable');
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
    const { config } = this.deps;
    // We led, but our own deadline passed before this renewal (frozen or starved between two ticks).
    const lapsedAt = this.leading && !this.lease.held ? this.lease.deadlineAt : undefined;
    const renewal = await this.lease.renew();
    report.reachable = true;
    const sinceLastAnswerMs = renewal.askedAt - this.lastAnswerAt;
    this.lastAnswerAt = this.clock();
    this.noteDatabase(renewal);
    if (!renewal.held) {
      if (this.leading) this.stepDown('lost sweeper leadership');
      return false;
    }
    if (!this.leading) {
      this.leading = true;
      this.deps.log.info(
        {
          holder: config.OCR_SWEEPER_ID,
          ttlS: config.leaderTtlS,
          how: renewal.renewed ? 'kept' : 'acquired',
          sinceLastAnswerS: seconds(sinceLastAnswerMs),
          warmUpLeftS: this.gate.open ? 0 : seconds(this.gate.remainingMs),
          warmUpReason: this.gate.open ? undefined : this.gate.reason,
        },
        'became sweeper leader',
      );
    } else if (lapsedAt !== undefined) {
      // Not a reason to warm up (see the class comment): the database answered, and its heartbeats are
      // current whether or not we were looking. Logged so that a starved replica shows in its logs.
      this.deps.log.info(
        {
          lateS: seconds(renewal.askedAt - lapsedAt),
          sinceLastAnswerS: seconds(sinceLastAnswerMs),
          how: renewal.renewed ? 'kept' : 'retaken after it expired',
        },
        'sweeper lease renewed late: it had lapsed on our own clock',
      );
    }
    report.leader = true;
    return true;
  }

  /**
   * What the database's answer says about blindness. It answered, so a wait that was waiting for it starts
   * now; and its start time tells whether it was down since we last asked (or came up less than a heartbeat
   * timeout ago), even if this replica slept through the outage without seeing a query fail.
   */
  private noteDatabase(renewal: Renewal): void {
    const timeoutMs = this.deps.config.OCR_HEARTBEAT_TIMEOUT_S * 1000;
    const startedAt = renewal.database.startedAt.getTime();
    const upMs = renewal.database.now.getTime() - startedAt;
    const restarted = this.databaseStartedAt !== undefined && startedAt !== this.databaseStartedAt;
    this.databaseStartedAt = startedAt;
    if (this.gate.awaitingDatabase) this.startWarmUp(timeoutMs, this.gate.reason);
    // A different server (restart, failover) whose start we did not see: a full timeout from now. A server
    // up for less than the timeout: until it has been up for the timeout (its clock, not ours).
    if (restarted) this.startWarmUp(timeoutMs, 'database restarted', upMs);
    else if (upMs < timeoutMs) this.startWarmUp(timeoutMs - upMs, 'database restarted', upMs);
  }

  /** Hold the gate for `ms` (never shortening a wait) and log when that starts or extends a warm-up. */
  private startWarmUp(ms: number, reason: WarmUpReason, databaseUpMs?: number): void {
    const before = this.gate.awaitingDatabase ? 0 : this.gate.remainingMs;
    const started = this.gate.holdFor(ms, reason);
    if (!started && this.gate.remainingMs <= before) return;
    if (started) {
      this.warming = true;
      this.warmingSince = this.clock();
    }
    this.deps.log.info(
      {
        reason,
        waitS: seconds(this.gate.remainingMs),
        ...(databaseUpMs === undefined ? {} : { databaseUpS: seconds(databaseUpMs) }),
      },
      started
        ? 'warm-up started: giving workers a heartbeat timeout before sweeping'
        : 'warm-up extended: giving workers a heartbeat timeout before sweeping',
    );
  }

  private noteWarmUpOver(): void {
    if (!this.warming) return;
    this.warming = false;
    this.deps.log.info(
      { reason: this.gate.reason, waitedS: seconds(this.clock() - this.warmingSince) },
      'warm-up over: judging heartbeats',
    );
  }

  /**
   * Right before each write: are we still the leader by our own clock, and has no renewal since the tick
   * began shown a database restart? Renew first when half the TTL has gone (a long backlog), so a healthy
   * leader is not interrupted; a lapsed one stops.
   */
  private async stillLeading(report: TickReport): Promise<boolean> {
    if (this.lease.held && this.lease.dueForRenewal) {
      const renewal = await this.lease.renew();
      this.lastAnswerAt = this.clock();
      this.noteDatabase(renewal);
      if (!this.gate.open) {
        report.warmingUp = true;
        return false;
      }
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

/** Milliseconds as seconds with two decimals, for logs. */
const seconds = (ms: number): number => Math.round(ms / 10) / 100;

/** Build a sweeper (not started): the factory tests and `startSweeper` share. */
export function createSweeper(deps: SweeperDeps): Sweeper {
  return new Sweeper(deps);
}
