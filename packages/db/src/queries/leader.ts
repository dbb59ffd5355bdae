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

/**
 * Take or renew a named leadership lease with a TTL, on the database clock. The row is ours when we hold it
 * already or the previous holder let it expire; otherwise nothing changes and we get undefined.
 *
 * Why a lease and not a session advisory lock: a frozen process (SIGSTOP, a stalled VM) keeps its Postgres
 * session, so its advisory lock would never free. A lease that must be renewed lapses by itself. The
 * upsert is a single statement: two contenders serialise on the row and exactly one wins.
 */
export async function tryAcquireOrRenewLeadership(
  db: Kysely<Database>,
  input: { name: string; holder: string; ttlS: number },
): Promise<LeadershipLease | undefined> {
  const { rows } = await sql<Omit<LeadershipLease, 'holder'>>`
    INSERT INTO leader_leases AS l (name, holder, expires_at, acquired_at)
    VALUES (${input.name}, ${input.holder}, now() + make_interval(secs => ${input.ttlS}::float8), now())
    ON CONFLICT (name) DO UPDATE SET
      holder = excluded.holder,
      expires_at = excluded.expires_at,
      acquired_at = CASE WHEN l.holder = excluded.holder AND l.expires_at >= now() THEN l.acquired_at ELSE now() END
    WHERE l.holder = excluded.holder OR l.expires_at < now()
    RETURNING l.expires_at, l.acquired_at, (l.acquired_at < now()) AS renewed
  `.execute(db);
  const row = rows[0];
  return row ? { holder: input.holder, ...row } : undefined;
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
