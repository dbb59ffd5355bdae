import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './types.js';

// bigint (int8) and numeric come back as strings by default; counts and sequence numbers fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

const parseTimestamptzText = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ) as (text: string) => Date;
const digit = (text: string, at: number): number => {
  const d = text.charCodeAt(at) - 48;
  return d >= 0 && d <= 9 ? d : NaN;
};
const digits = (text: string, at: number, count: number): number => {
  let n = 0;
  for (let i = 0; i < count; i++) n = n * 10 + digit(text, at + i);
  return n;
};

/**
 * A `timestamptz` as Postgres writes it in a UTC session (`2026-12-05 07:16:55.751262+00`), read by position
 * instead of three regular expressions; anything else (another time zone, BC, infinity, years before 100
 * or after 9999) goes to node-postgres's own parser. The same Date either way (milliseconds truncated, as
 * there): test/timestamptz-parser.test.ts compares both over generated texts. The claim reads five of them
 * per run, which made this parser a thirtieth of the API's CPU in a drain of no-op runs.
 */
export function parseTimestamptz(text: string): Date {
  const n = text.length;
  if (
    n >= 22 &&
    n <= 29 &&
    text.charCodeAt(n - 3) === 43 /* + */ &&
    text.charCodeAt(n - 2) === 48 &&
    text.charCodeAt(n - 1) === 48 &&
    text.charCodeAt(4) === 45 &&
    text.charCodeAt(7) === 45 &&
    text.charCodeAt(10) === 32 &&
    text.charCodeAt(13) === 58 &&
    text.charCodeAt(16) === 58 &&
    (n === 22 || (n >= 24 && text.charCodeAt(19) === 46))
  ) {
    const year = digits(text, 0, 4);
    let ms = 0;
    // Milliseconds: the first three fraction digits (node-postgres truncates the microseconds too).
    for (let i = 0; i < 3; i++) ms = ms * 10 + (20 + i < n - 3 ? digit(text, 20 + i) : 0);
    for (let i = 23; i < n - 3; i++) if (Number.isNaN(digit(text, i))) ms = NaN;
    const time = Date.UTC(
      year,
      digits(text, 5, 2) - 1,
      digits(text, 8, 2),
      digits(text, 11, 2),
      digits(text, 14, 2),
      digits(text, 17, 2),
      ms,
    );
    if (year >= 100 && !Number.isNaN(time)) return new Date(time);
  }
  return parseTimestamptzText(text);
}
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, parseTimestamptz);

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
