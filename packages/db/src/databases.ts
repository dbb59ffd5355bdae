import { sql, type Kysely } from 'kysely';
import pg from 'pg';

/** One statement on a short-lived superuser connection to `serverUrl` (database commands run outside transactions). */
async function onServer(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

function identifier(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  return name;
}

/**
 * Create database `name` on the server (`ocr dev`, the test runner, the benchmarks). `ifMissing` makes it
 * idempotent; `template` clones a migrated template (the test runner's per-file databases), retried
 * while another session briefly holds the template.
 */
export async function createDatabase(
  serverUrl: string,
  name: string,
  options: { template?: string; ifMissing?: boolean } = {},
): Promise<void> {
  const db = identifier(name);
  if (options.ifMissing) {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
      if (rowCount) return;
    } finally {
      await client.end();
    }
  }
  const statement = options.template
    ? `CREATE DATABASE ${db} TEMPLATE ${identifier(options.template)}`
    : `CREATE DATABASE ${db}`;
  for (let attempt = 0; ; attempt++) {
    try {
      return await onServer(serverUrl, statement);
    } catch (err) {
      if (!options.template || attempt >= 50 || !/being accessed by other users/.test(String(err))) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
    }
  }
}

/** Drop database `name` if it exists, closing its sessions. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await onServer(serverUrl, `DROP DATABASE IF EXISTS ${identifier(name)} WITH (FORCE)`);
}

/** The URL of database `name` on the server of `serverUrl`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${identifier(name)}`;
  return url.toString();
}

/** Does the database answer? (`/readyz`.) */
export async function ping<T>(db: Kysely<T>): Promise<void> {
  await sql`SELECT 1`.execute(db);
}
