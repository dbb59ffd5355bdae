import { apiError } from './errors.js';

/**
 * Keyset cursors over (created_at, id), newest first: the history of runs and the artifact search. Opaque to
 * clients (base64url), checked strictly when they come back.
 */
export function encodeCursor(row: { created_at: Date; id: string }): string {
  return Buffer.from(`${row.created_at.toISOString()}|${row.id}`).toString('base64url');
}

/** What `encodeCursor` writes: a four-digit-year ISO timestamp (so no far-future date reaches SQL) and a UUID. */
const CURSOR =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

export function decodeCursor(cursor: string): { created_at: string; id: string } {
  const [, created_at, id] = CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8')) ?? [];
  if (!created_at || !id || !(Date.parse(created_at) >= 0)) {
    throw apiError('validation_failed', 'query.cursor: is not a cursor this API issued', [
      { field: 'query.cursor', message: 'invalid' },
    ]);
  }
  return { created_at, id };
}
