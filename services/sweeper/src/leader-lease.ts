import type { Kysely } from 'kysely';
import { resignLeadership, tryAcquireOrRenewLeadership, type Database } from '@ocr/db';

/** A monotonic clock in milliseconds (injectable so tests can simulate a frozen process). */
export type MonotonicClock = () => number;

/**
 * This replica's view of the leadership lease. The database decides who holds it; this object decides
 * whether WE may act right now, on our own monotonic clock: the lease counts from the moment we sent the
 * renewal (never from when the answer arrived), so our deadline is never later than the database's. A
 * process that was frozen past its deadline (SIGSTOP, a stalled VM) wakes up knowing it may not act,
 * whatever it believed before the freeze.
 */
export class LeaderLease {
  private deadline = -Infinity;
  private renewedAt = -Infinity;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: { name: string; holder: string; ttlS: number; clock: MonotonicClock },
  ) {}

  /** True while our last successful renewal has not run out on our own clock. */
  get held(): boolean {
    return this.options.clock() < this.deadline;
  }

  /** True when more than half the TTL has passed since the last renewal (long sweeps renew between pages). */
  get dueForRenewal(): boolean {
    return this.options.clock() - this.renewedAt > (this.options.ttlS * 1000) / 2;
  }

  /**
   * Take or extend the lease. Returns whether we hold it; throws when the database cannot answer (the
   * caller then steps down: not knowing is not leading).
   */
  async renew(): Promise<boolean> {
    const asked = this.options.clock();
    try {
      const lease = await tryAcquireOrRenewLeadership(this.db, this.options);
      if (!lease) {
        this.deadline = -Infinity;
        return false;
      }
      this.renewedAt = asked;
      this.deadline = asked + this.options.ttlS * 1000;
      return true;
    } catch (err) {
      this.deadline = -Infinity;
      throw err;
    }
  }

  /** Stop acting at once (locally); the row lapses by its TTL. */
  drop(): void {
    this.deadline = -Infinity;
  }

  /** Give the lease back so another replica takes over without waiting for the TTL. */
  async resign(): Promise<void> {
    this.drop();
    await resignLeadership(this.db, this.options);
  }
}
