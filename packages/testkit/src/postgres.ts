import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createDatabase, databaseUrl, dropDatabase, migrateToLatest } from '@ocr/db';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '@ocr/embedded';

/** A Postgres server for one test or benchmark run, with one freshly migrated database on it. */
export interface ScratchPostgres {
  /** The server (superuser, `postgres` database): where more databases are made. */
  serverUrl: string;
  /** The migrated database. */
  url: string;
  /** The embedded server, when one was started. */
  embedded: EmbeddedPostgresServer | undefined;
  /** Stop the embedded server and remove its directory (an external server is left as it was). */
  stop(): Promise<void>;
}

/**
 * The server of `serverUrl` (e.g. DATABASE_URL) when given, else an embedded one in a temporary directory;
 * database `name` dropped if present, created and migrated. Used by `npm test` (scripts/test.ts: the
 * template every test file clones) and the benchmarks.
 */
export async function startScratchPostgres(name: string, serverUrl?: string): Promise<ScratchPostgres> {
  let embedded: EmbeddedPostgresServer | undefined;
  let dir: string | undefined;
  const stop = async () => {
    await embedded?.stop().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    if (!serverUrl) {
      dir = await mkdtemp(join(tmpdir(), 'ocr-scratch-pg-'));
      embedded = await startEmbeddedPostgres({ dir, persistent: false });
      serverUrl = embedded.url;
    }
    await dropDatabase(serverUrl, name);
    await createDatabase(serverUrl, name);
    const url = databaseUrl(serverUrl, name);
    const { db, close } = connect(url, { max: 2 });
    try {
      await migrateToLatest(db, url);
    } finally {
      await close();
    }
    return { serverUrl, url, embedded, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
