import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// A token may be limited to lanes and to templates (row-level access): NULL means every lane (template),
// an array the only ones it may touch. A worker token with lanes claims only from those lanes.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE api_tokens ADD COLUMN lanes text[], ADD COLUMN templates text[]`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE api_tokens DROP COLUMN IF EXISTS lanes, DROP COLUMN IF EXISTS templates`.execute(db);
}
