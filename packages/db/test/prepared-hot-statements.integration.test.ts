// The hot queue statements (the create, claim on both paths, completion single and batched, heartbeat, the
// live feed's read and its tick's newest-seq lookup) are prepared once
// per API connection. A migration that adds a column to `runs` while an API process holds them prepared
// must not break them: they name their result columns instead of `r.*`, which Postgres refuses to re-plan
// ("cached plan must not change result type"). The control statement below shows that failure is real.
import t from 'tap';
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import {
  claimRuns,
  completeRunsWithEvents,
  completeRunWithEvents,
  heartbeatRuns,
  HOT_RUN_COLUMNS,
  lastSeqs,
  readFeedEvents,
  PREPARED,
  RUN_ROW_COLUMNS,
  type Database,
} from '@ocr/db';
import { createTestDatabase, makeRuns } from '@ocr/testkit';

const CONTROL = `${PREPARED}SELECT r.* FROM runs r WHERE r.id = $1`;

/** The control statement on the pool's connection, as Kysely sends a query (a checked-out client, two arguments). */
async function control(pool: pg.Pool, id: string) {
  const client = await pool.connect();
  try {
    return await client.query(CONTROL, [id]);
  } finally {
    client.release();
  }
}

/** One round of the per-run hot path on the pool's only connection; returns what each statement answered. */
async function round(db: Kysely<Database>) {
  const created = await makeRuns(db, 2, { lane: 'A' });
  await makeRuns(db, 1, { lane: 'capped' });
  const uncapped = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 2, leaseSeconds: 60 });
  const locked = await claimRuns(db, { workerId: 'w', lanes: ['capped'], limit: 1, leaseSeconds: 60 });
  const leases = [...uncapped, ...locked].map((run) => ({ runId: run.id, leaseToken: run.lease_token! }));
  const beats = await heartbeatRuns(db, leases, 60);
  const single = await completeRunWithEvents(db, {
    ...leases[0]!,
    status: 'success',
    events: [{ seq: 1, level: 'info', type: 'log', message: 'one' }],
  });
  const batch = await completeRunsWithEvents(
    db,
    leases.slice(1).map((lease) => ({ ...lease, status: 'success' as const })),
  );
  const feed = await readFeedEvents(db, leases[0]!.runId, 0, 1000);
  const newest = await lastSeqs(
    db,
    leases.map((lease) => lease.runId),
  );
  return { created, uncapped, locked, beats, single, batch, feed, newest };
}

async function prepared(db: Kysely<Database>) {
  const { rows } = await sql<{ name: string; statement: string; pid: number }>`
    SELECT name, statement, pg_backend_pid() AS pid FROM pg_prepared_statements WHERE name LIKE 'ocr_%'
  `.execute(db);
  return rows;
}

t.test('a column added to runs while the hot statements are prepared leaves them working', async (t) => {
  const { db, pool, url } = await createTestDatabase(t, { poolSize: 1 });
  await makeRuns(db, 1, { lane: 'capped' });
  await db.updateTable('lanes').set({ max_concurrency: 5 }).where('name', '=', 'capped').execute();

  const first = await round(db);
  t.equal(first.uncapped.length, 2, 'claimed on the one-statement path');
  t.equal(first.locked.length, 1, 'claimed on the capped-lane path');
  const [probe] = first.uncapped;
  await control(pool, probe!.id);

  const before = await prepared(db);
  const has = (fragment: string) => before.filter((row) => row.statement.includes(fragment)).length;
  t.equal(has('INSERT INTO runs'), 1, 'the create is prepared');
  t.equal(has('claimed AS ('), 2, 'both claim statements are prepared (uncapped and locked)');
  t.equal(has('ORDER BY name FOR UPDATE'), 1, 'the capped-lane lock is prepared');
  t.equal(has('finished AS ('), 2, 'both completion statements are prepared (one run, batch)');
  t.equal(has('beat AS ('), 1, 'the heartbeat is prepared');
  t.equal(has('FROM run_timeline'), 1, "the feed's read is prepared");
  t.equal(has('WHERE id = ANY'), 1, "the feed tick's newest-seq lookup is prepared");
  t.equal(has('SELECT r.* FROM runs r'), 1, 'the control statement is prepared');

  // A migration from another process: a new column, with a default so existing rows fill it.
  const migrator = new pg.Client({ connectionString: url });
  await migrator.connect();
  await migrator.query(
    `ALTER TABLE runs ADD COLUMN scratch_note text NOT NULL DEFAULT 'added while prepared'`,
  );
  await migrator.end();

  const second = await round(db);
  t.same(
    Object.keys(second.created[0]!).sort(),
    [...RUN_ROW_COLUMNS].sort(),
    'the create still creates, answering exactly the named columns',
  );
  t.equal(second.uncapped.length, 2, 'the one-statement claim still claims');
  t.equal(second.locked.length, 1, 'the capped-lane claim still claims');
  t.ok(
    second.beats.every((beat) => beat.ok),
    'the heartbeat still extends every lease',
  );
  t.ok(second.single.ok && second.single.value.status === 'success', 'the single completion still completes');
  t.same(
    second.batch.map((r) => r.ok && r.value.status),
    ['success', 'success'],
    'the batched completion still completes',
  );
  t.same(
    second.feed.map((e) => e.type),
    ['claimed', 'log', 'status'],
    "the feed's read still reads the completed run's timeline",
  );
  t.equal(second.newest.size, 3, 'the newest-seq lookup still answers for every run');
  const columns = [...HOT_RUN_COLUMNS].sort();
  t.same(Object.keys(second.uncapped[0]!).sort(), columns, 'a claimed run has exactly the named columns');
  t.same(
    Object.keys(second.single.ok ? second.single.value : {}).sort(),
    [...columns, 'accepted', 'requeued'].sort(),
    'a completed run has exactly the named columns',
  );

  const after = await prepared(db);
  t.equal(after[0]!.pid, before[0]!.pid, 'the same connection throughout');
  t.same(
    after.map((row) => row.name).sort(),
    before.map((row) => row.name).sort(),
    'no statement was prepared again: the second round reused the prepared ones',
  );

  const { rows } = await sql<{ type: string; n: number }>`
    SELECT type, count(*)::int AS n FROM run_timeline WHERE type IN ('claimed', 'status') GROUP BY type ORDER BY type
  `.execute(db);
  t.same(
    rows,
    [
      { type: 'claimed', n: 6 },
      { type: 'status', n: 6 },
    ],
    'both rounds wrote their timelines',
  );

  await t.rejects(
    control(pool, probe!.id),
    /cached plan must not change result type/,
    'control: a prepared `r.*` statement does break on the new column',
  );
});

t.test(
  'the prepared completion, heartbeat and feed read keep one generic plan instead of being planned on every call',
  async (t) => {
    const { db } = await createTestDatabase(t, { poolSize: 1 });
    await makeRuns(db, 1, { lane: 'capped' });
    await db.updateTable('lanes').set({ max_concurrency: 50 }).where('name', '=', 'capped').execute();
    // Postgres plans a prepared statement's first five calls for their values, then keeps the generic plan
    // unless it looks dearer than those: rounds enough for that choice, on the pool's only connection.
    for (let i = 0; i < 8; i++) await round(db);
    const { rows } = await sql<{ statement: string; generic_plans: number; custom_plans: number }>`
    SELECT statement, generic_plans::int, custom_plans::int FROM pg_prepared_statements WHERE name LIKE 'ocr_%'
  `.execute(db);
    const plans = (fragment: string) => rows.filter((row) => row.statement.includes(fragment));
    // Not the claim: Postgres plans it for each call's values (its generic plan guesses ten lanes and a tenth
    // of the queue for each LIMIT, so it looks dearer), and a generic claim plan, tried, scanned the queue.
    for (const [what, fragment, count] of [
      ['completion', 'finished AS (', 2],
      ['heartbeat', 'beat AS (', 1],
      ['feed read', 'FROM run_timeline', 1],
    ] as const) {
      const found = plans(fragment);
      t.equal(found.length, count, `${what}: ${count} prepared statement(s)`);
      for (const row of found)
        t.ok(
          row.generic_plans > 0 && row.custom_plans <= 5,
          `${what}: generic plan kept (${row.generic_plans} generic, ${row.custom_plans} custom)`,
        );
    }
  },
);

t.test(
  "the create's named columns are the run table's columns (but the folded timeline and steps)",
  async (t) => {
    const { db } = await createTestDatabase(t, { poolSize: 1 });
    const { rows } = await sql<{ column_name: string }>`
    SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'runs'
  `.execute(db);
    t.same(
      rows
        .map((row) => row.column_name)
        .filter((name) => name !== 'timeline' && name !== 'steps')
        .sort(),
      [...RUN_ROW_COLUMNS].sort(),
      'a migration that adds or drops a run column updates RunsTable and RUN_ROW_COLUMNS with it',
    );
  },
);
