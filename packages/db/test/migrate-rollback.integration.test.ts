// Rollback across a migration: a newer build migrates forward (an expand migration the older build does not
// know), then the older build's migrate step runs, exactly as the migration Job of a rolled-back deploy does.
// Before the fix Kysely stopped it ("previously executed migration … is missing") and the rollback failed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import t from 'tap';
import { Migrator, sql, type Migration } from 'kysely';
import { buildMigrations, claimRuns, enqueueRuns, knownMigrations, migrate } from '@ocr/db';
import { createTestDatabase } from '@ocr/testkit';

const REPO_ROOT = resolve(import.meta.dirname, '../../..');

/** The next release's expand migration: a new column with a default, which the older code ignores. */
const NEWER: Record<string, Migration> = {
  '2099-01-01T0000-runs-add-cost-center': {
    up: async (db) => {
      await sql`ALTER TABLE runs ADD COLUMN cost_center text NOT NULL DEFAULT 'unassigned'`.execute(db);
    },
  },
};

/** Run the older build's migrate step as the Job does: the CLI, in a child process. */
async function cliMigrate(url: string): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'packages/cli/bin/ocr.js'), 'migrate'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, DATABASE_URL: url, OCR_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stdout += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout };
}

t.test(
  'the older build migrates (and serves) after a newer build applied a migration it does not know',
  async (t) => {
    const { db, url } = await createTestDatabase(t);
    const newer = await migrate(db, url, { ...buildMigrations(), ...NEWER });
    t.same(
      newer.results.map((r) => r.migrationName),
      Object.keys(NEWER),
      'the newer build applied its expand migration',
    );

    // What the older build did before the fix: Kysely's migrator over this build's migrations only.
    const plain = await new Migrator({
      db,
      provider: { getMigrations: async () => buildMigrations() },
    }).migrateToLatest();
    t.match(
      String(plain.error),
      /previously executed migration 2099-01-01T0000-runs-add-cost-center is missing/,
      'Kysely alone refuses',
    );

    const older = await migrate(db, url);
    t.same(older.results, [], 'nothing to apply');
    t.same(older.ahead, Object.keys(NEWER), 'the newer migration is reported and left in place');

    const cli = await cliMigrate(url);
    t.equal(cli.code, 0, `ocr migrate exits 0 (${cli.stdout.trim().split('\n').at(-1)})`);
    t.match(cli.stdout, /database has migrations from a newer build/);

    // The older code still works against the expanded schema: enqueue and claim.
    await sql`INSERT INTO lanes (name) VALUES ('A') ON CONFLICT DO NOTHING`.execute(db);
    const [created] = await enqueueRuns(db, [
      { template: 'hello', template_version: 1, lane: 'A', params: {} },
    ]);
    const claimed = await claimRuns(db, { workerId: 'w1', lanes: ['A'], limit: 1, leaseSeconds: 30 });
    t.equal(
      claimed[0]?.id,
      created!.run.id,
      'an old worker claims a run created by old code on the new schema',
    );

    // Rolling forward again applies nothing twice.
    const again = await migrate(db, url, { ...buildMigrations(), ...NEWER });
    t.same(again.results, []);
  },
);

t.test(
  'an unknown applied migration that is NOT newer stops the migration (renamed or removed)',
  async (t) => {
    const { db, url } = await createTestDatabase(t);
    const oldest = knownMigrations()[0]!;
    await sql`INSERT INTO kysely_migration (name, timestamp) VALUES (${'2000-01-01T0000-removed'}, ${new Date().toISOString()})`.execute(
      db,
    );
    await t.rejects(migrate(db, url), { code: 'unknown_migration', names: ['2000-01-01T0000-removed'] });
    await t.rejects(migrate(db, url), /2000-01-01T0000-removed .*not newer/);
    const { rows } = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM kysely_migration WHERE name = ${oldest}`.execute(db);
    t.equal(rows[0]!.n, 1, 'nothing was touched');
  },
);
