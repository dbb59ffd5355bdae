import { sql, type Kysely } from 'kysely';
import type { Database } from '../types.js';

/**
 * Take or renew a named leadership lease with a TTL (database clock). A row is ours when we hold it or the
 * previous holder let it expire. A frozen process keeps its Postgres session (so a session advisory lock
 * would never free); a lease that must be renewed does. Returns the expiry when we lead, else undefined.
 */
export async function acquireLeadership(db: Kysely<Database>, input: { name: string; holder: string; ttlS: number }): Promise<Date | undefined> {
  const { rows } = await sql<{ expires_at: Date }>`
    INSERT INTO leader_leases (name, holder, expires_at, acquired_at)
    VALUES (${input.name}, ${input.holder}, now() + make_interval(secs => ${input.ttlS}), now())
    ON CONFLICT (name) DO UPDATE SET
      holder = excluded.holder,
      expires_at = excluded.expires_at,
      acquired_at = CASE WHEN leader_leases.holder = excluded.holder THEN leader_leases.acquired_at ELSE now() END
    WHERE leader_leases.holder = excluded.holder OR leader_leases.expires_at < now()
    RETURNING expires_at
  `.execute(db);
  return rows[0]?.expires_at;
}

/** Give leadership up at once (graceful stop), so another replica need not wait for the TTL. */
export async function resignLeadership(db: Kysely<Database>, input: { name: string; holder: string }): Promise<void> {
  await db.deleteFrom('leader_leases').where('name', '=', input.name).where('holder', '=', input.holder).execute();
}

/** Who leads now, if anyone (unexpired). */
export async function currentLeader(db: Kysely<Database>, name: string): Promise<string | undefined> {
  const { rows } = await sql<{ holder: string }>`SELECT holder FROM leader_leases WHERE name = ${name} AND expires_at > now()`.execute(db);
  return rows[0]?.holder;
}
