import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// A worker identity belongs to the token that registered it: another token can neither claim as it nor
// trigger its restart detection (which requeues its running runs).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE workers ADD COLUMN token_id uuid`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE workers DROP COLUMN IF EXISTS token_id`.execute(db);
}
