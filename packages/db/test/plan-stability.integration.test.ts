// PLAN-STABLE (packages/db/src/queue/fence.ts): the hot queue statements do work in proportion to their
// batch, whatever the planner's statistics say. The statistics here are the adversarial ones production
// gets: `runs` analysed while nothing was queued or running, then a burst the statistics never saw (on a
// big table autovacuum re-analyses rarely). A statement that lets the planner reach the runs it wants
// through the `status = 'queued'` / `'running'` partial indexes then reads every queued or running run per
// call. The work is counted, not timed: rows read from `runs` and its indexes, as Postgres counts them.
// Every plan cache mode: per-call plans, the one generic plan, and the default that switches between them.
import t from 'tap';
import { sql, type Kysely } from 'kysely';
import {
  appendEvents,
  claimRuns,
  completeRuns,
  completeRunsWithEvents,
  completeRunWithEvents,
  heartbeatRuns,
  releaseRun,
  sweepStaleRuns,
  type Database,
  type HotRun,
} from '@ocr/db';
import { createTestDatabase, makeRuns } from '@ocr/testkit';

/** Finished runs in the analysed history, and the burst the statistics never saw. */
const HISTORY = 2000;
const BURST = 3000;
const CLAIM = 50;
/** Rows a statement may read from `runs` and its indexes per run it touches, plus a constant. */
const PER_RUN = 12;
const SLACK = 30;

/**
 * Rows read from `runs` (sequential scans and every index on it) by `work`. One pooled connection: the
 * statistics are flushed by the forced report after the statement, and read by the next one.
 */
async function rowsRead(db: Kysely<Database>, work: () => Promise<unknown>): Promise<number> {
  const read = async () => {
    await sql`SELECT pg_stat_force_next_flush()`.execute(db);
    const { rows } = await sql<{ n: number }>`
      SELECT (COALESCE(t.seq_tup_read, 0) + COALESCE(t.idx_tup_fetch, 0) +
              COALESCE((SELECT sum(i.idx_tup_read) FROM pg_stat_user_indexes i WHERE i.relid = t.relid), 0))::int AS n
      FROM pg_stat_user_tables t WHERE t.relname = 'runs'
    `.execute(db);
    return rows[0]!.n;
  };
  const before = await read();
  await work();
  return (await read()) - before;
}

/** Whether a fenced answer (or every one of a list, or a non-empty sweep) applied. */
function applied(result: unknown): boolean {
  if (Array.isArray(result)) return result.length > 0 && result.every(applied);
  return typeof result === 'object' && result !== null && (result as { ok?: boolean }).ok !== false;
}

for (const mode of ['auto', 'force_custom_plan', 'force_generic_plan'] as const) {
  t.test(`hot statements read rows in proportion to their batch (plan_cache_mode ${mode})`, async (t) => {
    const { db } = await createTestDatabase(t, { poolSize: 1 });
    await sql`ALTER TABLE runs SET (autovacuum_enabled = off)`.execute(db);
    await sql.raw(`SET plan_cache_mode = ${mode}`).execute(db);

    // History: finished runs, vacuumed and analysed while nothing is queued or running.
    await makeRuns(db, HISTORY, { lane: 'A' });
    await sql`UPDATE runs SET status = 'success', attempt = 1, started_at = now(), finished_at = now()`.execute(
      db,
    );
    await sql`VACUUM ANALYZE runs`.execute(db);
    await makeRuns(db, BURST, { lane: 'A' });

    const bound = (runs: number) => PER_RUN * runs + SLACK;
    const claimed: HotRun[] = [];
    // Enough claims for the default mode to settle on its generic plan (after five custom ones).
    for (let i = 0; i < 8; i++) {
      let batch: HotRun[] = [];
      const read = await rowsRead(db, async () => {
        batch = await claimRuns(db, { workerId: 'w1', lanes: ['A'], limit: CLAIM, leaseSeconds: 60 });
      });
      t.equal(batch.length, CLAIM, `claim ${i + 1} claimed a full batch`);
      t.ok(
        read <= bound(CLAIM),
        `claim ${i + 1} of ${CLAIM} from ${BURST - i * CLAIM} queued read ${read} rows`,
      );
      claimed.push(...batch);
    }
    t.equal(claimed.length, 8 * CLAIM, `${claimed.length} runs are running, unseen by the statistics`);

    const lease = (run: HotRun) => ({ runId: run.id, leaseToken: run.lease_token! });
    const take = () => claimed.shift()!;
    const checks: [string, number, () => Promise<unknown>][] = [];
    for (let i = 0; i < 6; i++) {
      const one = take();
      const ten = Array.from({ length: 10 }, take);
      checks.push(
        ['heartbeat of one run', 1, () => heartbeatRuns(db, [lease(one)], 60)],
        ['heartbeat of ten runs', 10, () => heartbeatRuns(db, ten.map(lease), 60)],
        [
          'append to one run',
          1,
          () => appendEvents(db, lease(one), [{ seq: i + 1, level: 'info', type: 'log', message: 'x' }]),
        ],
      );
    }
    for (let i = 0; i < 6; i++) {
      const [a, b, c, d] = [take(), take(), take(), take()];
      const ten = Array.from({ length: 10 }, take);
      checks.push(
        [
          'completion of one run with events',
          1,
          () =>
            completeRunWithEvents(db, {
              ...lease(a),
              status: 'success',
              events: [{ seq: 1, level: 'info', type: 'log', message: 'done' }],
            }),
        ],
        [
          'completion of ten runs with events',
          10,
          () =>
            completeRunsWithEvents(
              db,
              ten.map((run) => ({ ...lease(run), status: 'success' as const })),
            ),
        ],
        ['completion without events', 1, () => completeRuns(db, [{ ...lease(b), status: 'error' }])],
        ['release', 1, () => releaseRun(db, lease(c), 'shutdown')],
        [
          'sweep of one stale run',
          1,
          () =>
            sweepStaleRuns(db, [
              {
                id: d.id,
                lease_token: d.lease_token!,
                heartbeat_at: d.heartbeat_at!,
                worker_id: d.worker_id!,
                lane: d.lane,
                silent_s: 120,
              },
            ]),
        ],
      );
    }
    for (const [name, runs, work] of checks) {
      let result: unknown;
      const read = await rowsRead(db, async () => {
        result = await work();
      });
      t.ok(applied(result), `${name} applied`);
      t.ok(read <= bound(runs), `${name} read ${read} rows (bound ${bound(runs)})`);
    }
  });
}
