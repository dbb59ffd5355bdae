import type { Kysely } from 'kysely';
import { acquireOrRenewLeadership, resignLeadership, type Database, type DatabaseClock } from '@ocr/db';

/** A monotonic clock in milliseconds (injectable so tests can simulate a frozen process). */
export type MonotonicClock = () => number;

/** What one renewal found out. */
export interface Renewal {
  /** We hold the lease now (until our own deadline). */
  held: boolean;
  /** We held an unexpired lease in the database and this only extended it (false: newly taken, or not ours). */
  renewed: boolean;
  /** Our clock when the renewal was sent. */
  askedAt: number;
  /** The database's clock and start time, read in the same statement. */
  database: DatabaseClock;
}

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

  /** Our clock at which the lease runs out for us (-Infinity: not held). */
  get deadlineAt(): number {
    return this.deadline;
  }

  /**
   * Take or extend the lease. Resolves with whether we hold it (and the database's clock); throws when the
   * database cannot answer (the caller then steps down: not knowing is not leading).
   */
  async renew(): Promise<Renewal> {
    const asked = this.options.clock();
    try {
      const { lease, clock } = await acquireOrRenewLeadership(this.db, this.options);
      if (!lease) {
        this.deadline = -Infinity;
        return { held: false, renewed: false, askedAt: asked, database: clock };
      }
      this.renewedAt = asked;
      this.deadline = asked + this.options.ttlS * 1000;
      return { held: true, renewed: lease.renewed, askedAt: asked, database: clock };
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
