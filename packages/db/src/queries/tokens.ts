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

/**
 * What `api_tokens.prefix` shows to recognise a token: the first 8 characters of a minted token (`ocr_` and
 * 4 of its 32 random characters, leaving 168 bits unknown), or for any other value 8 hex digits of its hash,
 * so no part of a chosen secret is ever stored in clear.
 */
export function tokenPrefix(token: string): string {
  return /^ocr_[A-Za-z0-9_-]{32}$/.test(token) ? token.slice(0, 8) : `#${hashToken(token).slice(0, 7)}`;
}

/**
 * Ensure the bootstrap admin token exists, without ever bringing it back after a revoke (revoking it must
 * stick across restarts). Returns whether it is usable.
 */
export async function ensureBootstrapToken(
  db: Kysely<Database>,
  token: string,
): Promise<{ created: boolean; revoked: boolean }> {
  const inserted = await db
    .insertInto('api_tokens')
    .values({
      name: 'bootstrap-admin',
      role: 'admin',
      token_hash: hashToken(token),
      prefix: tokenPrefix(token),
    })
    .onConflict((oc) => oc.column('token_hash').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted) return { created: true, revoked: false };
  const row = await db
    .selectFrom('api_tokens')
    .select(['revoked_at'])
    .where('token_hash', '=', hashToken(token))
    .executeTakeFirstOrThrow();
  return { created: false, revoked: row.revoked_at !== null };
}

/** What a new token may do: its role, and optionally the only lanes and templates it may touch. */
export interface TokenInput {
  name: string;
  role: Role;
  /** null or absent: every lane. */
  lanes?: string[] | null;
  /** null or absent: every template. */
  templates?: string[] | null;
  token?: string;
}

/** Create a token; the plain value is returned once and never stored. */
export async function createToken(
  db: Kysely<Database>,
  input: TokenInput,
): Promise<{ row: ApiTokenRow; token: string }> {
  const token = input.token ?? mintToken();
  const scope = { lanes: input.lanes ?? null, templates: input.templates ?? null };
  const row = await db
    .insertInto('api_tokens')
    .values({
      name: input.name,
      role: input.role,
      token_hash: hashToken(token),
      prefix: tokenPrefix(token),
      ...scope,
    })
    .onConflict((oc) => oc.column('token_hash').doUpdateSet({ revoked_at: null, role: input.role, ...scope }))
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
