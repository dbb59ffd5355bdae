// The 2026-12-05T0400 migration (issue 19): run search moves to the side table `run_search`, written once when
// a run is inserted, so a claim or a completion no longer re-inserts into two GIN indexes. An upgraded
// database keeps every run searchable; the side table follows params/labels updates, run deletes (retention,
// TRUNCATE) and backups (new ones, and an older backup restored then upgraded); down brings the old indexes back.
import t from 'tap';
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import {
  buildMigrations,
  claimRuns,
  completeRunsWithEvents,
  deleteFinishedRuns,
  enqueueRuns,
  exportDatabase,
  importDatabase,
  listRuns,
  migrate,
  putTemplate,
  type Database,
} from '@ocr/db';
import { createTestDatabase, type TestLike } from '@ocr/testkit';

const NAME = '2026-12-05T0400-run-search-table';
const all = buildMigrations();
const before = Object.fromEntries(Object.entries(all).filter(([name]) => name < NAME));

const DEFINITION = {
  params_schema: {
    type: 'object',
    properties: { env: { type: 'string' }, token: { type: 'string', writeOnly: true } },
  },
  steps: [{ name: 'noop', kind: 'noop' }],
};

/** An empty database at the migrations before this one. */
async function olderDatabase(t: TestLike) {
  const handle = await createTestDatabase(t);
  const admin = new pg.Client({ connectionString: handle.url });
  await admin.connect();
  await admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  await admin.end();
  await migrate(handle.db, handle.url, before);
  return handle;
}

/** Every run's search columns as runs holds them, and as run_search holds them. */
async function searchRows(db: Kysely<Database>) {
  const { rows: fromRuns } = await sql<{ id: string; p: unknown; t: string }>`
    SELECT id, search_params AS p, search_text AS t FROM runs ORDER BY id`.execute(db);
  const { rows: side } = await sql<{ id: string; p: unknown; t: string }>`
    SELECT run_id AS id, search_params AS p, search_text AS t FROM run_search ORDER BY run_id`.execute(db);
  return { fromRuns, side };
}

async function indexes(pool: pg.Pool, table: string): Promise<string[]> {
  const { rows } = await pool.query(
    `SELECT indexname FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%USING gin%' ORDER BY 1`,
    [table],
  );
  return rows.map((r: { indexname: string }) => r.indexname);
}

const ids = async (db: Kysely<Database>, filter: { q?: string; params?: Record<string, unknown> }) =>
  (await listRuns(db, { ...filter, limit: 50 })).map((r) => r.id).sort();

async function backup(db: Kysely<Database>): Promise<string[]> {
  const lines: string[] = [];
  await exportDatabase(db, async (line) => void lines.push(line));
  return lines;
}

async function* linesOf(lines: string[]) {
  for (const line of lines) yield line;
}

t.test('upgrade, hot path, updates, deletes, backups and down', async (t) => {
  const { db, url, pool } = await olderDatabase(t);
  await pool.query(`INSERT INTO lanes (name) VALUES ('A')`);
  await putTemplate(db, { name: 'deploy', description: '', definition: DEFINITION });
  // Written by the previous schema: a run of a known template (one secret param) and one whose template
  // row does not exist (its search columns are what it was inserted with).
  const [known, orphan] = await enqueueRuns(db, [
    { template: 'deploy', template_version: 1, lane: 'A', params: { env: 'prod-7', token: 's3cret-9' } },
    { template: 'gone', template_version: 3, lane: 'A', params: { env: 'orphan-5' }, labels: { k: 'v' } },
  ]);
  const older = await backup(db);
  t.same(await indexes(pool, 'runs'), ['runs_search_params_idx', 'runs_search_text_trgm_idx']);

  const { results } = await migrate(db, url, all);
  t.same(
    results.map((r) => r.migrationName),
    Object.keys(all).filter((name) => name >= NAME),
    'the upgrade applies this migration',
  );
  t.same(await indexes(pool, 'runs'), [], 'no search index left on runs');
  t.same(await indexes(pool, 'run_search'), ['run_search_params_idx', 'run_search_text_trgm_idx']);
  let rows = await searchRows(db);
  t.equal(rows.side.length, 2, 'every existing run has its search row');
  t.same(rows.side, rows.fromRuns, 'the same columns as the run rows');
  t.same(await ids(db, { q: 'prod-7' }), [known!.run.id], 'an upgraded run is found by text');
  t.same(await ids(db, { params: { env: 'prod-7' } }), [known!.run.id], 'and by key/value');
  t.same(await ids(db, { q: 'gone' }), [orphan!.run.id], 'a run of an unknown template by its name');
  t.same(
    await ids(db, { params: { env: 'orphan-5' } }),
    [],
    'but not by params it cannot tell secret or not',
  );
  t.same(await ids(db, { q: 's3cret' }), [], 'never by a secret');

  // New runs get their row at insert, in one statement per enqueue batch.
  const fresh = await enqueueRuns(
    db,
    Array.from({ length: 5 }, (_, i) => ({
      template: 'deploy',
      template_version: 1,
      lane: 'A',
      params: { env: `new-${i}`, token: `hidden-${i}` },
    })),
  );
  rows = await searchRows(db);
  t.equal(rows.side.length, 7);
  t.same(rows.side, rows.fromRuns, 'new runs: the same columns as the run rows');
  t.same(await ids(db, { q: 'new-3' }), [fresh[3]!.run.id]);
  t.same(await ids(db, { q: 'hidden' }), [], 'a new secret is not searchable either');

  // The hot path never writes run_search: the rows' versions are the ones the insert wrote.
  const version = async () =>
    (
      await sql<{
        v: string;
      }>`SELECT string_agg(xmin::text || ctid::text, ',' ORDER BY run_id) AS v FROM run_search`.execute(db)
    ).rows[0]!.v;
  const untouched = await version();
  const claimed = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 10, leaseSeconds: 60 });
  t.equal(claimed.length, 7);
  await completeRunsWithEvents(
    db,
    claimed.map((r) => ({ runId: r.id, leaseToken: r.lease_token!, status: 'success' as const })),
  );
  t.equal(await version(), untouched, 'claims and completions leave run_search alone');

  // Params, labels or template changed (nothing in the product does; an operator might): followed.
  await sql`UPDATE runs SET labels = '{"ticket":"OPS-1234"}' WHERE id = ${fresh[0]!.run.id}`.execute(db);
  t.same(await ids(db, { q: 'OPS-1234' }), [fresh[0]!.run.id], 'a label update is searchable');
  rows = await searchRows(db);
  t.same(rows.side, rows.fromRuns, 'after an update: the same columns as the run rows');

  // A new backup leaves the derived run_search out; restoring the runs rebuilds it exactly.
  const newer = await backup(db);
  t.notOk(
    newer.some((line) => line === JSON.stringify({ table: 'run_search' })),
    'the backup has no run_search table',
  );
  const target = await createTestDatabase(t);
  await importDatabase(target.db, linesOf(newer));
  t.same(await searchRows(target.db), rows, 'a restored backup has the same search rows');
  t.same(await ids(target.db, { q: 'OPS-1234' }), [fresh[0]!.run.id], 'and finds by them');

  // An older backup: restored at its own migrations, then upgraded.
  const old = await olderDatabase(t);
  await importDatabase(old.db, linesOf(older));
  await migrate(old.db, old.url, all);
  const restored = await searchRows(old.db);
  t.equal(restored.side.length, 2);
  t.same(restored.side, restored.fromRuns, 'an older backup, upgraded: a search row per run');
  t.same(await ids(old.db, { q: 'prod-7' }), [known!.run.id], 'found as before the backup');
  t.same(await ids(old.db, { q: 'gone' }), [orphan!.run.id]);

  // Deletes take the search rows along: retention, a plain DELETE, TRUNCATE.
  t.same(await deleteFinishedRuns(db, [fresh[1]!.run.id]), [fresh[1]!.run.id]);
  await sql`DELETE FROM runs WHERE id = ${fresh[2]!.run.id}`.execute(db);
  rows = await searchRows(db);
  t.equal(rows.side.length, 5, 'retention and a delete removed their search rows');
  t.same(rows.side, rows.fromRuns);
  await sql`TRUNCATE run_events, run_steps, artifacts, runs CASCADE`.execute(db);
  t.equal((await searchRows(db)).side.length, 0, 'TRUNCATE of runs empties run_search');

  // Down: the indexes are back on runs (whose columns were kept up to date), the side table is gone.
  await enqueueRuns(db, [{ template: 'deploy', template_version: 1, lane: 'A', params: { env: 'after' } }]);
  await all[NAME]!.down!(db);
  t.same(await indexes(pool, 'runs'), ['runs_search_params_idx', 'runs_search_text_trgm_idx']);
  const { rows: left } = await pool.query(`SELECT to_regclass('run_search') IS NULL AS gone`);
  t.ok(left[0].gone, 'run_search dropped');
  const { rows: found } = await pool.query(
    `SELECT count(*)::int AS n FROM runs WHERE search_text ILIKE '%after%'`,
  );
  t.equal(found[0].n, 1, 'runs inserted after the upgrade are searchable on runs again');
});
