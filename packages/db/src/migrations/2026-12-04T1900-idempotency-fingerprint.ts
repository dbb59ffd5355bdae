import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// An idempotency key answers with the original run only for the same request: the fingerprint of the
// request that used the key first is kept, and a different request with the same key is refused (409).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs ADD COLUMN idempotency_fingerprint text`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs DROP COLUMN IF EXISTS idempotency_fingerprint`.execute(db);
}
