// The 2026-12-05T0800 migration (issue 19): one running index instead of three, and history indexes without
// the running rows. Every read those indexes served still reads an index on a realistic table (EXPLAIN of the
// statements the functions really send, captured from Kysely's log), and the history listing, now two sides
// merged, pages exactly as one ordered query over the whole table would.
import t from 'tap';
import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
import {
  claimRuns,
  findOrphanedLeases,
  findStaleRuns,
  finishAbandonedCancels,
  laneOverview,
  laneRuns,
  laneStates,
  listRuns,
  listWorkers,
  vacuumAnalyze,
  type Database,
  type ListRunsFilter,
} from '@ocr/db';
import { createTestDatabase } from '@ocr/testkit';

const LANES = ['A', 'B', 'C', 'D', 'E'];

/**
 * `finished` finished runs, `queued` queued and `running` running ones (on `workers` workers) over five lanes,
 * 50 templates and a few sessions; created_at in whole seconds, so many runs share one (the id breaks ties).
 */
async function fill(
  db: Kysely<Database>,
  n: { finished: number; queued: number; running: number; workers: number },
) {
  await sql`INSERT INTO lanes (name, max_concurrency) SELECT unnest(${LANES}::text[]), 100`.execute(db);
  await sql`INSERT INTO sessions (name) SELECT 's' || i FROM generate_series(1, 5) i`.execute(db);
  await sql`
    INSERT INTO runs (template, template_version, lane, status, attempt, created_at, started_at, finished_at, session_id)
    SELECT 't' || (i % 50), 1, (${LANES}::text[])[1 + i % 5],
           (ARRAY['success', 'success', 'success', 'error', 'cancelled'])[1 + (i * 7) % 5], 1,
           date_trunc('second', now()) - make_interval(secs => i / 3), now() - make_interval(secs => i / 3),
           now() - make_interval(secs => i / 3 - 1),
           CASE WHEN i % 97 = 0 THEN (SELECT id FROM sessions ORDER BY name LIMIT 1 OFFSET i % 5) END
    FROM generate_series(1, ${n.finished}) i`.execute(db);
  await sql`
    INSERT INTO runs (template, template_version, lane, status, run_at, created_at)
    SELECT 't' || (i % 50), 1, (${LANES}::text[])[1 + i % 5], 'queued',
           now() + CASE WHEN i % 10 = 0 THEN interval '1 hour' ELSE interval '0' END,
           date_trunc('second', now()) - make_interval(secs => i / 5)
    FROM generate_series(1, ${n.queued}) i`.execute(db);
  await sql`INSERT INTO workers (id, boot_id, lanes, concurrency)
            SELECT 'w' || i, 'boot', ${LANES}::text[], 10 FROM generate_series(1, ${n.workers}) i`.execute(
    db,
  );
  await sql`
    INSERT INTO runs (template, template_version, lane, status, attempt, created_at, started_at, heartbeat_at,
                      lease_expires_at, lease_token, worker_id, worker_boot, cancel_requested, cancel_requested_at)
    SELECT 't' || (i % 50), 1, (${LANES}::text[])[1 + i % 5], 'running', 1,
           date_trunc('second', now()) - make_interval(secs => i / 2),
           now() - make_interval(secs => i / 2), now() - make_interval(secs => i % 40), now() + interval '1 minute',
           gen_random_uuid(), 'w' || (1 + i % ${n.workers}), 'boot', i % 50 = 0,
           CASE WHEN i % 50 = 0 THEN now() - interval '1 minute' END
    FROM generate_series(1, ${n.running}) i`.execute(db);
}

/** A Kysely on the same pool that records every statement it sends. */
function recording(pool: unknown) {
  const sent: CompiledQuery[] = [];
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: pool as never }),
    log: (event) => {
      if (event.level === 'query') sent.push(event.query);
    },
  });
  return { db, sent };
}

async function plansOf(
  handle: {
    pool: { query: (text: string, values?: unknown[]) => Promise<{ rows: Record<string, string>[] }> };
  },
  sent: CompiledQuery[],
) {
  const plans: string[] = [];
  for (const q of sent) {
    if (!/\bruns\b/.test(q.sql) || /^\s*(begin|commit|rollback)/i.test(q.sql)) continue;
    const { rows } = await handle.pool.query(`EXPLAIN ${q.sql}`, q.parameters as unknown[]);
    plans.push(rows.map((r) => r['QUERY PLAN']).join('\n'));
  }
  return plans.join('\n----\n');
}

t.test('every read of the running and history indexes stays index-served on a realistic table', async (t) => {
  const handle = await createTestDatabase(t);
  await fill(handle.db, { finished: 200_000, queued: 5_000, running: 3_000, workers: 300 });
  await vacuumAnalyze(handle.db, ['runs', 'workers', 'lanes', 'sessions']);
  const session = (
    await sql<{ id: string }>`SELECT id FROM sessions ORDER BY name LIMIT 1`.execute(handle.db)
  ).rows[0]!.id;

  const check = async (
    what: string,
    call: (db: Kysely<Database>) => Promise<unknown>,
    expect: RegExp[],
  ): Promise<void> => {
    const { db, sent } = recording(handle.pool);
    await call(db);
    const plan = await plansOf(handle as never, sent);
    for (const index of expect) t.match(plan, index, `${what}: ${index.source}`);
    t.notMatch(plan, /Seq Scan on runs/, `${what}: no sequential scan of runs`);
    t.comment(`${what}:\n${plan}`);
  };

  const running = /runs_running_idx/;
  await check(
    'claim with capped lanes (running count per lane)',
    (db) => claimRuns(db, { workerId: 'w1', lanes: ['A'], limit: 5, leaseSeconds: 60 }),
    [running, /runs_claim_idx/],
  );
  await check('lane states', (db) => laneStates(db, LANES), [running]);
  await check('lane overview', (db) => laneOverview(db), [running]);
  await check('lane runs (active per lane)', (db) => laneRuns(db), [running]);
  await check('fleet view (running per worker)', (db) => listWorkers(db), [running]);
  await check('stale scan', (db) => findStaleRuns(db, { timeoutS: 30, limit: 100 }), [running]);
  await check('restart detection', (db) => findOrphanedLeases(db, 'w7', 'new-boot'), [running]);
  await check('abandoned cancels', (db) => finishAbandonedCancels(db, { graceS: 3600, limit: 100 }), [
    running,
  ]);
  const list = (filter: Omit<ListRunsFilter, 'limit'>) => (db: Kysely<Database>) =>
    listRuns(db, { ...filter, limit: 51 });
  await check('history, no filter', list({}), [/runs_created_idx/, running]);
  await check(
    'history, next page',
    list({ cursor: { created_at: new Date(Date.now() - 3600_000).toISOString(), id: session } }),
    [/runs_created_idx/, running],
  );
  // A fifth of the table: the planner may walk the created index and filter; either is an index, never a scan.
  await check('history by lane', list({ lane: 'B' }), [/runs_lane_created_idx|runs_created_idx/, running]);
  await check('history by template', list({ template: 't7' }), [/runs_template_created_idx/, running]);
  await check('history by session', list({ session_id: session }), [/runs_session_idx/, running]);
  // A fifth of the finished runs failed (as with lanes): walking the created index and filtering is as good for
  // one page, and which one the planner picks depends on ANALYZE's sample. Either is an index, never a scan.
  await check('history, errors', list({ status: 'error' }), [/runs_status_created_idx|runs_created_idx/]);
  await check('history, queued', list({ status: 'queued' }), [/runs_status_created_idx|runs_claim_idx/]);
  await check('history, scheduled', list({ status: 'scheduled' }), [
    /runs_status_created_idx|runs_claim_idx/,
  ]);
  await check('history, running', list({ status: 'running' }), [running]);
});

t.test('the merged history pages exactly as one ordered query over the table (generated)', async (t) => {
  const handle = await createTestDatabase(t);
  await fill(handle.db, { finished: 2_000, queued: 300, running: 400, workers: 20 });
  // Ties: move a random third of the runs onto a few shared instants, across statuses.
  await sql`UPDATE runs SET created_at = date_trunc('minute', now()) - make_interval(mins => (random() * 3)::int)
            WHERE random() < 0.33`.execute(handle.db);
  const session = (
    await sql<{ id: string }>`SELECT id FROM sessions ORDER BY name LIMIT 1`.execute(handle.db)
  ).rows[0]!.id;
  const filters: [string, Omit<ListRunsFilter, 'limit' | 'cursor'>, string][] = [
    ['all', {}, 'true'],
    ['running', { status: 'running' }, `status = 'running'`],
    ['queued', { status: 'queued' }, `status = 'queued'`],
    ['scheduled', { status: 'scheduled' }, `status = 'queued' AND run_at > now()`],
    ['lane', { lane: 'C' }, `lane = 'C'`],
    ['template', { template: 't3' }, `template = 't3'`],
    ['lanes', { lanes: ['A', 'E'] }, `lane IN ('A', 'E')`],
    ['session', { session_id: session }, `session_id = '${session}'`],
  ];
  for (const [name, filter, where] of filters) {
    const want = (
      await sql<{
        id: string;
      }>`SELECT id FROM runs WHERE ${sql.raw(where)} ORDER BY created_at DESC, id DESC`.execute(handle.db)
    ).rows.map((r) => r.id);
    for (const limit of [1 + Math.floor(Math.random() * 7), 37, 500]) {
      const got: string[] = [];
      let cursor: ListRunsFilter['cursor'];
      for (;;) {
        const page = await listRuns(handle.db, { ...filter, limit, cursor });
        got.push(...page.map((r) => r.id));
        if (page.length < limit) break;
        const last = page[page.length - 1]!;
        cursor = { created_at: new Date(last.created_at).toISOString(), id: last.id };
      }
      t.same(got, want, `${name}, pages of ${limit}: ${want.length} runs in order`);
    }
  }
});
