import type { MonotonicClock } from './leader-lease.js';

/** Why the sweeper is (or last was) waiting before it judges heartbeats. */
export type WarmUpReason =
  /** The process just started: it knows nothing of what happened before. */
  | 'started'
  /** A query, or an idle connection, failed: the database was unreachable, so were the workers' heartbeats. */
  | 'database unreachable'
  /** The database's start time is recent, or changed since we last asked: it was down (restart, failover). */
  | 'database restarted';

/**
 * When the sweeper may judge heartbeats. After the sweeper starts and after the database was unreachable
 * or restarted, workers may simply not have been able to heartbeat: every heartbeat looks old. The gate
 * stays closed until the database has been reachable for one full heartbeat timeout, so workers are heard
 * again before anyone is judged stale (no mass false requeue after an outage).
 */
export class WarmUpGate {
  private openAt = Infinity;
  private why: WarmUpReason = 'started';

  constructor(
    private readonly waitMs: number,
    private readonly clock: MonotonicClock,
  ) {}

  /**
   * Hold the gate for at least `ms` from now (default: the full wait); never shortens a wait already
   * running. Returns true when this started a wait (the gate was open, or closed awaiting the database).
   */
  holdFor(ms: number = this.waitMs, reason: WarmUpReason = this.why): boolean {
    const started = this.open || this.openAt === Infinity;
    const until = this.clock() + ms;
    if (this.openAt === Infinity || until > this.openAt) {
      this.openAt = until;
      this.why = reason;
    }
    return started;
  }

  /** Close the gate until `holdFor` (the database is unreachable: the wait starts when it answers again). */
  close(reason: WarmUpReason): void {
    this.openAt = Infinity;
    this.why = reason;
  }

  /** Closed, waiting for the database to answer before the wait can even start. */
  get awaitingDatabase(): boolean {
    return this.openAt === Infinity;
  }

  /** Why the current (or last) wait was started. */
  get reason(): WarmUpReason {
    return this.why;
  }

  /** True once the wait has run out. */
  get open(): boolean {
    return this.clock() >= this.openAt;
  }

  /** Milliseconds left to wait (Infinity while closed). */
  get remainingMs(): number {
    return Math.max(0, this.openAt - this.clock());
  }
}
