// The 2026-12-05T0400 migration (issue 19): a run's timeline may be folded into its run row. Down spills
// every folded timeline back into `run_events` rows (the same events, byte for byte); up again leaves those
// runs unfolded (timeline NULL) and reading the same.
import t from 'tap';
import { sql } from 'kysely';
import {
  appendEvents,
  buildMigrations,
  claimRuns,
  completeRunsWithEvents,
  readEvents,
  type EventInput,
} from '@ocr/db';
import { createTestDatabase, makeRuns } from '@ocr/testkit';

const NAME = '2026-12-05T0400-timeline-in-run-row';

const step = (seq: number, type: string, message: string): EventInput => ({
  seq,
  level: 'info',
  type,
  step: 's',
  message,
  data: { index: 0, kind: 'noop', status: 'success', n: 9007199254740993n.toString() },
});

t.test('down spills folded timelines into rows; up again reads the same', async (t) => {
  const { db } = await createTestDatabase(t);
  const runs = await makeRuns(db, 3);
  const claimed = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 3, leaseSeconds: 60 });
  const lease = (i: number) => ({
    runId: runs[i]!.id,
    leaseToken: claimed.find((r) => r.id === runs[i]!.id)!.lease_token!,
  });
  // 0: wholly folded; 1: claim folded, then rows (an append); 2: still running, only its claim folded.
  await appendEvents(db, lease(1), [step(1, 'log', 'appended')]);
  await completeRunsWithEvents(db, [
    {
      ...lease(0),
      status: 'success',
      events: [step(1, 'step.started', 'go é'), step(2, 'step.finished', 'ok')],
    },
    { ...lease(1), status: 'error', events: [step(2, 'step.finished', 'failed "q"')] },
  ]);
  const folded = await sql<{ id: string; n: number | null; rows: number }>`
    SELECT r.id, cardinality(r.timeline) AS n, (SELECT count(*)::int FROM run_events e WHERE e.run_id = r.id) AS rows
    FROM runs r ORDER BY r.id`.execute(db);
  t.same(
    Object.fromEntries(folded.rows.map((r) => [r.id, [r.n, r.rows]])),
    { [runs[0]!.id]: [4, 0], [runs[1]!.id]: [1, 3], [runs[2]!.id]: [1, 0] },
    'folded, folded prefix then rows, claim only',
  );
  const exact = async () =>
    (
      await sql`SELECT run_id, seq, attempt, attempt_seq, ts::text AS ts, level, type, step, message, data::text AS data
                FROM run_timeline ORDER BY run_id, seq`.execute(db)
    ).rows;
  const before = await exact();
  const reads = await Promise.all(runs.map((r) => readEvents(db, { runId: r.id })));

  const migration = buildMigrations()[NAME]!;
  await migration.down!(db);
  const spilled = (
    await sql`SELECT run_id, seq, attempt, attempt_seq, ts::text AS ts, level, type, step, message, data::text AS data
              FROM run_events ORDER BY run_id, seq`.execute(db)
  ).rows;
  t.same(spilled, before, 'down: every folded event is a row, byte for byte');
  const column = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'runs' AND column_name = 'timeline'`.execute(
    db,
  );
  t.equal(column.rows[0]!.n, 0, 'down: the column is gone');

  await migration.up(db);
  t.same(await exact(), before, 'up again: the same timeline');
  const timelines = await sql<{ timeline: unknown }>`SELECT timeline FROM runs`.execute(db);
  t.ok(
    timelines.rows.every((r) => r.timeline === null),
    'runs from before the migration never fold',
  );
  t.same(
    await Promise.all(runs.map((r) => readEvents(db, { runId: r.id }))),
    reads,
    'readEvents reads the same',
  );
});
