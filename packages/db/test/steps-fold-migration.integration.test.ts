// The 2026-12-05T0810 migration (issue 19): a fast run's step rows may be folded into its run row with its
// timeline. Down spills every folded step row back into `run_steps` (the same rows, byte for byte); up again
// leaves those runs unfolded (steps NULL) and reading the same. Deleting a run takes its folded steps with it.
import t from 'tap';
import { sql } from 'kysely';
import {
  appendEvents,
  buildMigrations,
  claimRuns,
  completeRunsWithEvents,
  getRunSteps,
  type EventInput,
} from '@ocr/db';
import { createTestDatabase, makeRuns } from '@ocr/testkit';

const NAME = '2026-12-05T0810-steps-in-run-row';

const step = (
  seq: number,
  type: 'step.started' | 'step.finished',
  index: number,
  status?: string,
): EventInput => ({
  seq,
  level: 'info',
  type,
  step: `s${index} é`,
  message: type,
  data: { index, kind: 'shell', ...(status ? { status, exit_code: status === 'success' ? 0 : 2 } : {}) },
});

t.test('down spills folded steps into rows; up again reads the same; a delete takes them', async (t) => {
  const { db } = await createTestDatabase(t);
  const runs = await makeRuns(db, 3, { max_attempts: 2 });
  const claimed = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 3, leaseSeconds: 60 });
  const lease = (i: number) => ({
    runId: runs[i]!.id,
    leaseToken: claimed.find((r) => r.id === runs[i]!.id)!.lease_token!,
  });
  // 0: folded (two steps, one still running); 1: an append first, so rows; 2: folded, failed, retried, folded again.
  await appendEvents(db, lease(1), [step(1, 'step.started', 0)]);
  await completeRunsWithEvents(db, [
    {
      ...lease(0),
      status: 'success',
      events: [
        step(1, 'step.started', 0),
        step(2, 'step.finished', 0, 'success'),
        step(3, 'step.started', 1),
      ],
    },
    { ...lease(1), status: 'success', events: [step(2, 'step.finished', 0, 'success')] },
    {
      ...lease(2),
      status: 'error',
      events: [step(1, 'step.started', 0), step(2, 'step.finished', 0, 'error')],
    },
  ]);
  await sql`UPDATE runs SET run_at = now() WHERE id = ${runs[2]!.id}`.execute(db);
  const [again] = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 1, leaseSeconds: 60 });
  t.equal(again!.id, runs[2]!.id, 'the failed run is claimed again');
  await completeRunsWithEvents(db, [
    {
      runId: again!.id,
      leaseToken: again!.lease_token!,
      status: 'success',
      events: [step(1, 'step.finished', 0, 'success')],
    },
  ]);
  const stored = await sql<{ id: string; folded: number | null; rows: number }>`
    SELECT r.id, cardinality(r.steps) AS folded, (SELECT count(*)::int FROM run_steps s WHERE s.run_id = r.id) AS rows
    FROM runs r ORDER BY r.id`.execute(db);
  t.same(
    Object.fromEntries(stored.rows.map((r) => [r.id, [r.folded, r.rows]])),
    { [runs[0]!.id]: [2, 0], [runs[1]!.id]: [0, 1], [runs[2]!.id]: [2, 0] },
    'folded, rows, folded over two attempts',
  );
  const exact = async () =>
    (
      await sql`SELECT run_id, attempt, idx, name, kind, status, started_at::text, finished_at::text, exit_code
                FROM run_steps_all ORDER BY run_id, attempt, idx`.execute(db)
    ).rows;
  const before = await exact();
  t.equal(before.length, 5, 'five step rows in all');
  const reads = await Promise.all(runs.map((r) => getRunSteps(db, r.id)));

  const migration = buildMigrations()[NAME]!;
  await migration.down!(db);
  const spilled = (
    await sql`SELECT run_id, attempt, idx, name, kind, status, started_at::text, finished_at::text, exit_code
              FROM run_steps ORDER BY run_id, attempt, idx`.execute(db)
  ).rows;
  t.same(spilled, before, 'down: every folded step is a row, byte for byte');
  const column = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'runs' AND column_name = 'steps'`.execute(
    db,
  );
  t.equal(column.rows[0]!.n, 0, 'down: the column is gone');

  await migration.up(db);
  t.same(await exact(), before, 'up again: the same steps');
  const folded = await sql<{ steps: unknown }>`SELECT steps FROM runs`.execute(db);
  t.ok(
    folded.rows.every((r) => r.steps === null),
    'runs from before the migration hold no folded steps',
  );
  t.same(await Promise.all(runs.map((r) => getRunSteps(db, r.id))), reads, 'getRunSteps reads the same');
});

t.test('deleting a run takes its folded steps with it', async (t) => {
  const { db } = await createTestDatabase(t);
  const [run] = await makeRuns(db, 1);
  const [claimed] = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 1, leaseSeconds: 60 });
  await completeRunsWithEvents(db, [
    {
      runId: run!.id,
      leaseToken: claimed!.lease_token!,
      status: 'success',
      events: [step(1, 'step.started', 0), step(2, 'step.finished', 0, 'success')],
    },
  ]);
  t.equal((await getRunSteps(db, run!.id)).length, 1, 'one folded step');
  await sql`DELETE FROM runs WHERE id = ${run!.id}`.execute(db);
  t.same(await getRunSteps(db, run!.id), [], 'gone with the run');
});
