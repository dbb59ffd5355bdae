/**
 * Any home works as root: Postgres runs as the `postgres` user there, which must reach its data. A 0700
 * home (what `mktemp -d` makes) is given the traverse bit and keeps the data; a 0700 directory above the
 * home (like /root) makes the cluster live in a place Postgres can reach, the same one on every start.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { RELOCATED_ROOT, startEmbeddedPostgres } from '../src/postgres.js';

const asRoot = userInfo().uid === 0;

async function query<T extends object>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

function privateDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ocr-home-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a 0700 home (mktemp -d) holds a working cluster', async (t) => {
  const home = privateDir(t);
  t.equal(statSync(home).mode & 0o777, 0o700, 'starts private');
  const server = await startEmbeddedPostgres({ dir: join(home, 'postgres'), owned: home, persistent: false });
  t.teardown(() => server.stop());
  t.same(await query(server.url, 'SELECT 1 AS one'), [{ one: 1 }]);
  t.equal(server.dataDir, join(home, 'postgres', 'pgdata'), 'the data stays in the home');
  // As root the home gained only the traverse bit for others (enter, not list).
  t.equal(statSync(home).mode & 0o777, asRoot ? 0o701 : 0o700);
});

t.test(
  'a private directory above the home: the cluster is kept where Postgres reaches it, and found again',
  async (t) => {
    const parent = privateDir(t);
    const home = join(parent, 'home');
    const first = await startEmbeddedPostgres({ dir: join(home, 'postgres'), owned: home });
    let stopped = false;
    t.teardown(async () => {
      if (!stopped) await first.stop();
      if (first.dataDir.startsWith(RELOCATED_ROOT))
        rmSync(join(first.dataDir, '..'), { recursive: true, force: true });
    });
    t.same(await query(first.url, 'SELECT 1 AS one'), [{ one: 1 }]);
    t.equal(statSync(parent).mode & 0o777, 0o700, 'a directory above the home is never changed');
    if (asRoot) {
      t.match(first.dataDir, new RegExp(`^${RELOCATED_ROOT}/[0-9a-f]{16}/pgdata$`));
      t.match(
        readFileSync(join(home, 'postgres', 'relocated-to'), 'utf8'),
        `the postgres user cannot enter ${parent}`,
      );
    } else {
      t.equal(first.dataDir, join(home, 'postgres', 'pgdata'));
    }
    await query(first.url, 'CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)');
    await first.stop();
    stopped = true;

    const again = await startEmbeddedPostgres({ dir: join(home, 'postgres'), owned: home });
    t.teardown(() => again.stop());
    t.equal(again.dataDir, first.dataDir, 'same home, same cluster');
    t.same(await query(again.url, 'SELECT v FROM kept'), [{ v: 42 }]);
  },
);

t.test(
  'the superuser password: generated once, kept 0600 beside the data, reused; an old constant one is replaced',
  async (t) => {
    const home = privateDir(t);
    const dir = join(home, 'postgres');
    const first = await startEmbeddedPostgres({ dir, owned: home });
    let running = first;
    t.teardown(() => running.stop());
    const password = readFileSync(join(dir, 'password'), 'utf8').trim();
    t.match(password, /^[A-Za-z0-9_-]{32}$/, 'random, 192 bits');
    t.equal(statSync(join(dir, 'password')).mode & 0o777, 0o600, 'readable by its owner only');
    t.equal(new URL(first.url).password, password, 'the URL carries it');
    t.not(password, 'ocr');
    await running.stop();

    running = await startEmbeddedPostgres({ dir, owned: home });
    t.equal(new URL(running.url).password, password, 'the same password on the next start');
    t.same(await query(running.url, 'SELECT 1 AS one'), [{ one: 1 }]);

    // A cluster from an older build: the constant password, no password file.
    await query(running.url, "ALTER ROLE postgres PASSWORD 'ocr'");
    await running.stop();
    rmSync(join(dir, 'password'));
    running = await startEmbeddedPostgres({ dir, owned: home });
    const replaced = readFileSync(join(dir, 'password'), 'utf8').trim();
    t.not(replaced, 'ocr');
    t.same(await query(running.url, 'SELECT 1 AS one'), [{ one: 1 }], 'the new password works');
    const old = new URL(running.url);
    old.password = 'ocr';
    await t.rejects(
      query(old.toString(), 'SELECT 1'),
      /password authentication failed/,
      'the constant no longer does',
    );
  },
);
