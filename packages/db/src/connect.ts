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
 * Open a pool. Idle clients that die (server restart, killed backend) emit 'error' on the pool; without a
 * listener that would crash the process, so it is always attached.
 */
export function connect(url: string, options: ConnectOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'ocr',
  });
  pool.on('error', (err) => options.onError?.(err));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    pool,
    close: () => db.destroy(),
  };
}
