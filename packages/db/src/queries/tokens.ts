import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { ApiTokenRow, Database, Role } from '../types.js';

/** Tokens are stored as sha256: a database leak gives no usable token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new random token, `ocr_` + 32 url-safe characters. */
export function mintToken(): string {
  return `ocr_${randomBytes(24).toString('base64url')}`;
}

/** Create a token; the plain value is returned once and never stored. */
export async function createToken(
  db: Kysely<Database>,
  input: { name: string; role: Role; token?: string },
): Promise<{ row: ApiTokenRow; token: string }> {
  const token = input.token ?? mintToken();
  const row = await db
    .insertInto('api_tokens')
    .values({ name: input.name, role: input.role, token_hash: hashToken(token), prefix: token.slice(0, 8) })
    .onConflict((oc) => oc.column('token_hash').doUpdateSet({ revoked_at: null, role: input.role }))
    .returningAll()
    .executeTakeFirstOrThrow();
  return { row, token };
}

/** The live token with this value, if any; marks it used (at most once a minute, to spare writes). */
export async function findToken(db: Kysely<Database>, token: string): Promise<ApiTokenRow | undefined> {
  const { rows } = await sql<ApiTokenRow>`
    UPDATE api_tokens SET last_used_at = CASE
        WHEN last_used_at IS NULL OR last_used_at < now() - interval '1 minute' THEN now() ELSE last_used_at END
    WHERE token_hash = ${hashToken(token)} AND revoked_at IS NULL
    RETURNING *
  `.execute(db);
  return rows[0];
}

export async function listTokens(db: Kysely<Database>): Promise<ApiTokenRow[]> {
  return db.selectFrom('api_tokens').selectAll().orderBy('created_at', 'desc').execute();
}

export async function revokeToken(db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await db
    .updateTable('api_tokens')
    .set({ revoked_at: sql`now()` as never })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
