import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// Recovery success rate (T6.4.2): whether a run the sweeper requeued after losing its worker later
// succeeded. `recovered` is set by the sweeper's requeue and never cleared; the partial index holds only
// those runs (a small share of a million), so counting them per lane and status is an index-only scan
// whatever the size of the table.
export async function up(db: Kysely<any>): Promise<void> {
  // A constant default: no table rewrite.
  await sql`ALTER TABLE runs ADD COLUMN recovered boolean NOT NULL DEFAULT false`.execute(db);
  // Runs from before: every infrastructure loss was a requeue, except the last one of a run the sweeper
  // failed (error code heartbeat_timeout, which only the sweeper writes).
  await sql`
    UPDATE runs SET recovered = true
    WHERE infra_losses > 0
      AND infra_losses > CASE WHEN error->>'code' = 'heartbeat_timeout' THEN 1 ELSE 0 END`.execute(db);
  await sql`CREATE INDEX runs_recovered_idx ON runs (lane, status) WHERE recovered`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS runs_recovered_idx`.execute(db);
  await sql`ALTER TABLE runs DROP COLUMN IF EXISTS recovered`.execute(db);
}
