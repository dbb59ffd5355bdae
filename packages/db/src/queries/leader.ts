import { sql, type Kysely } from 'kysely';
import type { Database } from '../types.js';

/** A leadership lease as the database granted it. */
export interface LeadershipLease {
  holder: string;
  /** Database time after which anyone may take the lease. */
  expires_at: Date;
  /** When the current holder took it (kept across renewals, reset when it had lapsed). */
  acquired_at: Date;
  /** True when the caller held an unexpired lease and this call only extended it. */
  renewed: boolean;
}

/** The database's own view of time, read in the same statement as a lease renewal. */
export interface DatabaseClock {
  /** `now()` on the database. */
  now: Date;
  /**
   * When this Postgres server started (`pg_postmaster_start_time()`): a restart shows here even to a
   * client that slept through it, so a sweeper can tell "the database was down" from "I was not looking".
   */
  startedAt: Date;
}

/**
 * Take or renew a named leadership lease with a TTL, on the database clock. The row is ours when we hold it
 * already or the previous holder let it expire; otherwise nothing changes and `lease` is undefined. The
 * database's clock and start time come back either way (one round trip per tick, leader or follower).
 *
 * Why a lease and not a session advisory lock: a frozen process (SIGSTOP, a stalled VM) keeps its Postgres
 * session, so its advisory lock would never free. A lease that must be renewed lapses by itself. The
 * upsert is a single statement: two contenders serialise on the row and exactly one wins.
 */
export async function acquireOrRenewLeadership(
  db: Kysely<Database>,
  input: { name: string; holder: string; ttlS: number },
): Promise<{ lease: LeadershipLease | undefined; clock: DatabaseClock }> {
  const { rows } = await sql<
    Partial<Omit<LeadershipLease, 'holder'>> & { db_now: Date; db_started_at: Date; ours: boolean }
  >`
    WITH upserted AS (
      INSERT INTO leader_leases AS l (name, holder, expires_at, acquired_at)
      VALUES (${input.name}, ${input.holder}, now() + make_interval(secs => ${input.ttlS}::float8), now())
      ON CONFLICT (name) DO UPDATE SET
        holder = excluded.holder,
        expires_at = excluded.expires_at,
        acquired_at = CASE WHEN l.holder = excluded.holder AND l.expires_at >= now() THEN l.acquired_at ELSE now() END
      WHERE l.holder = excluded.holder OR l.expires_at < now()
      RETURNING l.expires_at, l.acquired_at, (l.acquired_at < now()) AS renewed
    )
    SELECT u.expires_at, u.acquired_at, u.renewed, (u.expires_at IS NOT NULL) AS ours,
           now() AS db_now, pg_postmaster_start_time() AS db_started_at
    FROM (SELECT 1) AS one LEFT JOIN upserted AS u ON true
  `.execute(db);
  const row = rows[0]!;
  const clock = { now: row.db_now, startedAt: row.db_started_at };
  if (!row.ours) return { lease: undefined, clock };
  return {
    lease: {
      holder: input.holder,
      expires_at: row.expires_at!,
      acquired_at: row.acquired_at!,
      renewed: row.renewed!,
    },
    clock,
  };
}

/** `acquireOrRenewLeadership` without the database clock: the lease if it is ours. */
export async function tryAcquireOrRenewLeadership(
  db: Kysely<Database>,
  input: { name: string; holder: string; ttlS: number },
): Promise<LeadershipLease | undefined> {
  return (await acquireOrRenewLeadership(db, input)).lease;
}

/** Give leadership up at once (graceful stop), so another replica need not wait out the TTL. */
export async function resignLeadership(
  db: Kysely<Database>,
  input: { name: string; holder: string },
): Promise<boolean> {
  const result = await db
    .deleteFrom('leader_leases')
    .where('name', '=', input.name)
    .where('holder', '=', input.holder)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Who leads now, if anyone (an unexpired lease). */
export async function currentLeader(db: Kysely<Database>, name: string): Promise<string | undefined> {
  const { rows } = await sql<{ holder: string }>`
    SELECT holder FROM leader_leases WHERE name = ${name} AND expires_at > now()
  `.execute(db);
  return rows[0]?.holder;
}
