import { sql, type Kysely } from 'kysely';
import type { Database } from '../types.js';

/**
 * What autovacuum would do a while after a bulk load, now: refresh the planner's statistics and merge GIN
 * indexes' pending lists (a long pending list makes an index look expensive). Tests and benchmarks that
 * check which index a query uses must not depend on when autovacuum wakes up.
 */
export async function vacuumAnalyze(db: Kysely<Database>, tables: (keyof Database)[]): Promise<void> {
  for (const table of tables) await sql`VACUUM (ANALYZE) ${sql.table(table)}`.execute(db);
}
