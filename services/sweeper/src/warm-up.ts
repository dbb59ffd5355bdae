import type { MonotonicClock } from './leader-lease.js';

/**
 * When the sweeper may judge heartbeats. After the sweeper starts, after it becomes leader and after the
 * database was unreachable, workers may simply not have been able to heartbeat: every heartbeat looks old.
 * The gate stays closed until the database has been reachable for one full heartbeat timeout, so workers
 * are heard again before anyone is judged stale (no mass false requeue after an outage).
 */
export class WarmUpGate {
  private openAt: number;

  constructor(
    private readonly waitMs: number,
    private readonly clock: MonotonicClock,
  ) {
    this.openAt = Infinity;
  }

  /** Start (or restart) the wait from now; never shortens a wait already running. */
  restart(): void {
    const until = this.clock() + this.waitMs;
    this.openAt = this.openAt === Infinity ? until : Math.max(this.openAt, until);
  }

  /** Close the gate until `restart` (the database is unreachable: the wait starts when it answers again). */
  close(): void {
    this.openAt = Infinity;
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
