import { sql, type Kysely } from 'kysely';
import type { Database, SessionRow } from '../types.js';

export async function createSession(
  db: Kysely<Database>,
  input: { name: string; labels?: Record<string, string> },
): Promise<SessionRow> {
  return db
    .insertInto('sessions')
    .values({ name: input.name, labels: JSON.stringify(input.labels ?? {}) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function getSession(db: Kysely<Database>, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listSessions(db: Kysely<Database>, limit = 200): Promise<SessionRow[]> {
  return db.selectFrom('sessions').selectAll().orderBy('created_at', 'desc').limit(limit).execute();
}

/** Close a session (compare-and-set on open); closed sessions accept no new runs. */
export async function closeSession(db: Kysely<Database>, id: string): Promise<SessionRow | undefined> {
  return db
    .updateTable('sessions')
    .set({ status: 'closed', closed_at: sql`now()` as never })
    .where('id', '=', id)
    .where('status', '=', 'open')
    .returningAll()
    .executeTakeFirst();
}
