import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './types.js';

// bigint (int8) and numeric come back as strings by default; counts and sequence numbers fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** A database handle: Kysely over a `pg.Pool`, with the pool exposed for LISTEN and raw clients. */
export interface Db {
  db: Kysely<Database>;
  pool: pg.Pool;
  close(): Promise<void>;
}

export interface ConnectOptions {
  max?: number;
  applicationName?: string;
  onError?: (err: Error) => void;
  /**
   * Prepare the hot statements (those whose text starts with `PREPARED`) once per connection instead of
   * parsing and planning them on every call. Only for a direct (session) connection, as the API's is: a
   * transaction-mode pooler would run the statement on a server connection that never saw it prepared.
   */
  prepare?: boolean;
}

/**
 * The mark of a hot statement (a comment, so it changes nothing where statements are not prepared). Its
 * text must be fixed (data only in parameters) and its result columns explicit, never a bare `*` of a
 * table: a prepared statement must keep its result shape across migrations.
 */
export const PREPARED = '/* ocr:prepared */ ';

const names = new Map<string, string>();
/** A statement's name: a hash of its text, so two texts never share a name and one text always gets one. */
function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `ocr_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * A client that sends marked statements as named ones: node-postgres parses a name once per connection and
 * then only binds and executes it, and Postgres keeps its plan (the append statement spent twice as long
 * planning as executing).
 */
class PreparingClient extends pg.Client {
  override query(...args: unknown[]): never {
    const [text, values] = args;
    if (typeof text === 'string' && text.startsWith(PREPARED) && Array.isArray(values) && args.length === 2)
      return super.query({ name: statementName(text), text, values }) as never;
    return (super.query as (...a: unknown[]) => never)(...args);
  }
}

/**
 * Open a pool. A client whose connection dies (server restart, killed backend, network cut) emits 'error':
 * while idle the pool forwards it, but pg-pool removes its listener while a client is checked out, so a
 * connection lost between two statements of a transaction would crash the process. Every client therefore
 * gets a listener of its own for life; the statement in flight still fails, and the pool discards the
 * dead client when it is released.
 */
export function connect(url: string, options: ConnectOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'ocr',
    ...(options.prepare ? { Client: PreparingClient } : {}),
  });
  pool.on('connect', (client) => client.on('error', (err) => options.onError?.(err)));
  // pg-pool re-emits an idle client's error here and throws without a listener; it was reported above.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    pool,
    close: () => db.destroy(),
  };
}
