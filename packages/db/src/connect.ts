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
