// A run's timeline folded into its run row (issue 19, timeline.ts) reads exactly as the same timeline written
// as `run_events` rows. Each seed plays one random life twice, step for step, on twin runs: one that may fold
// (a new run) and one that never does (timeline NULL, as a run from before the migration). Claims, appends
// (replayed tails included), completions (batched or one run, success, error with retries left, cancelled,
// replayed events, NUL bytes and invalid text), cancel requests and releases; every answer and then every
// reader (readEvents with cursors, level and text filters, the cancel-key lookup, the lanes' current step and
// last line, the run's steps: rows or folded into `runs.steps` with the timeline) must agree between the twins.
// The live feed's prepared read (readFeedEvents) must return exactly readEvents' rows from every cursor, and
// lastSeqs each run's newest seq.
import t from 'tap';
import { sql, type Kysely } from 'kysely';
import {
  appendEvents,
  cancelledWithKey,
  cancelRun,
  claimRuns,
  completeRunsWithEvents,
  completeRunWithEvents,
  getRunSteps,
  lastSeqs,
  laneRuns,
  readEvents,
  readFeedEvents,
  releaseRun,
  type Database,
  type EventInput,
  type RunEventRow,
  type RunStepRow,
} from '@ocr/db';
import { createTestDatabase, makeRuns } from '@ocr/testkit';
import { seededRandom as rng } from '@ocr/testkit/random';

type Op =
  | { kind: 'claim' }
  | { kind: 'append'; n: number; replay: boolean; dirty: boolean }
  | {
      kind: 'complete';
      status: 'success' | 'error' | 'cancelled';
      n: number;
      replay: boolean;
      dirty: boolean;
      one: boolean;
    }
  | { kind: 'cancel'; key: string }
  | { kind: 'release' };

function events(random: () => number, from: number, n: number, dirty: boolean): EventInput[] {
  return Array.from({ length: n }, (_, i) => {
    const seq = from + i;
    const r = random();
    if (r < 0.25) {
      // Step rows (run_steps or runs.steps): status, exit code and kind vary, some missing or unknown.
      const status = ['success', 'error', 'timeout', 'bogus', undefined][Math.floor(random() * 5)];
      const exit = random() < 0.7 ? Math.floor(random() * 3) - 1 : undefined;
      return {
        seq,
        level: 'info',
        type: r < 0.12 ? 'step.started' : 'step.finished',
        step: `s${seq % 3}`,
        message: `step ${seq}`,
        data: { index: seq % 3, kind: random() < 0.8 ? 'shell' : undefined, status, exit_code: exit },
      };
    }
    return {
      seq,
      ...(random() < 0.5 ? { ts: new Date(Date.UTC(2020, 0, 1, 0, 0, seq, 123)).toISOString() } : {}),
      level: random() < 0.7 ? 'info' : random() < 0.5 ? 'warn' : 'debug',
      type: 'log',
      ...(random() < 0.5 ? { step: 'main' } : {}),
      message: dirty ? `nul\u0000 lone \ud800 ${seq} é` : `line ${seq} "q" \\ {b} needle${seq % 3}`,
      ...(random() < 0.6
        ? { data: { stream: 'stdout', n: seq, nested: [1.5, null, dirty ? 'x\u0000' : 'x'] } }
        : {}),
    };
  });
}

/** What differs between twins by construction (ids, tokens, lanes, the clock). */
const VARYING = new Set([
  'id',
  'run_id',
  'runId',
  'lease_token',
  'leaseToken',
  'lane',
  'ts',
  'run_at',
  'created_at',
  'started_at',
  'finished_at',
  'heartbeat_at',
  'lease_expires_at',
  'cancel_requested_at',
]);

/** An answer without what differs between twins by construction; the storage column itself is left out. */
function normalise(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value ?? null, (key, v) => {
      if (key === 'timeline' || key === 'steps') return undefined;
      if (VARYING.has(key)) return v === null ? null : 'set';
      return typeof v === 'string' ? v.replace(/retry at .*/, 'retry at <ts>') : v;
    }),
  );
}

/** A timeline as read, with server timestamps reduced to "a Date" (worker-given ones kept). */
const shape = (rows: RunEventRow[]) =>
  rows.map(({ run_id: _, ts, ...row }) => ({
    ...row,
    ts: ts instanceof Date ? (ts.getUTCFullYear() === 2020 ? ts.toISOString() : 'now') : 'not a date',
    message: row.message.replace(/retry at .*/, 'retry at <ts>'),
  }));

/** Steps as read, with server timestamps reduced to whether they are set. */
const stepShape = (rows: RunStepRow[]) =>
  rows.map(({ run_id: _, started_at, finished_at, ...row }) => ({
    ...row,
    started_at: started_at instanceof Date ? 'now' : 'not a date',
    finished_at: finished_at === null ? null : finished_at instanceof Date ? 'now' : 'not a date',
  }));

interface Twin {
  id: string;
  lane: string;
  lease: string | null;
  next: number;
}

async function apply(db: Kysely<Database>, twin: Twin, op: Op, random: () => number): Promise<unknown> {
  const lease = twin.lease ? { runId: twin.id, leaseToken: twin.lease } : null;
  switch (op.kind) {
    case 'claim': {
      // A requeued run waits for its backoff; both twins' waits end now (the clock must not pick one of them).
      await sql`UPDATE runs SET run_at = now() WHERE id = ${twin.id} AND status = 'queued'`.execute(db);
      const claimed = await claimRuns(db, {
        workerId: 'w-fold',
        lanes: [twin.lane],
        limit: 1,
        leaseSeconds: 60,
      });
      if (claimed[0]) {
        twin.lease = claimed[0].lease_token;
        twin.next = 1;
      }
      return claimed.map((r) => ({ status: r.status, attempt: r.attempt, last_seq: r.last_seq }));
    }
    case 'append': {
      if (!lease) return 'no lease';
      const from = op.replay && twin.next > 3 ? twin.next - 2 : twin.next;
      const batch = events(random, from, op.n + (twin.next - from), op.dirty);
      twin.next = from + batch.length;
      return appendEvents(db, lease, batch, { returnEvents: true });
    }
    case 'complete': {
      if (!lease) return 'no lease';
      const from = op.replay && twin.next > 3 ? twin.next - 2 : twin.next;
      const item = {
        ...lease,
        status: op.status,
        error:
          op.status === 'error'
            ? { code: 'step_failed', message: `exit 1 ${op.dirty ? '\u0000' : ''}` }
            : null,
        output: op.status === 'success' ? { ok: true } : undefined,
        events: events(random, from, op.n + (twin.next - from), op.dirty),
      };
      twin.lease = null;
      return op.one ? completeRunWithEvents(db, item) : (await completeRunsWithEvents(db, [item]))[0];
    }
    case 'cancel':
      return cancelRun(db, twin.id, 'tester', op.key);
    case 'release': {
      if (!lease) return 'no lease';
      twin.lease = null;
      return releaseRun(db, lease, 'shutdown');
    }
  }
}

function randomOp(random: () => number): Op {
  const r = random();
  const n = [0, 1, 2, 3, 5, 12, 35][Math.floor(random() * 7)]!;
  if (r < 0.3) return { kind: 'claim' };
  if (r < 0.45) return { kind: 'append', n: Math.max(1, n), replay: random() < 0.3, dirty: random() < 0.2 };
  if (r < 0.85)
    return {
      kind: 'complete',
      status: (['success', 'error', 'error', 'cancelled'] as const)[Math.floor(random() * 4)]!,
      n,
      replay: random() < 0.3,
      dirty: random() < 0.2,
      one: random() < 0.5,
    };
  if (r < 0.93) return { kind: 'cancel', key: `k${Math.floor(random() * 3)}` };
  return { kind: 'release' };
}

t.test('a folded timeline reads exactly as the same timeline written as rows', async (t) => {
  const { db } = await createTestDatabase(t);
  let foldedRuns = 0;
  let crossed = 0;
  let foldedSteps = 0;
  let mixedSteps = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const random = rng(1900 + seed);
    const twins: Twin[] = [];
    for (const kind of ['fold', 'rows']) {
      const lane = `${kind}${seed}`;
      const [run] = await makeRuns(db, 1, { lane, max_attempts: 3, template: 'fold' });
      if (kind === 'rows')
        await sql`UPDATE runs SET timeline = NULL, steps = NULL WHERE id = ${run!.id}`.execute(db);
      twins.push({ id: run!.id, lane, lease: null, next: 1 });
    }
    const steps = 2 + Math.floor(random() * 10);
    for (let step = 0; step < steps; step++) {
      const op = randomOp(random);
      // The same random draws for both twins: fork the generator's state by replaying the seed position.
      const state = random();
      const answers = [];
      for (const twin of twins)
        answers.push(normalise(await apply(db, twin, op, rng(Math.floor(state * 1e9)))));
      t.same(answers[0], answers[1], `seed ${seed} step ${step} ${op.kind}: same answer`);
    }
    const [fold, rows] = twins as [Twin, Twin];
    const read = async (twin: Twin, extra: object = {}) =>
      shape(await readEvents(db, { runId: twin.id, limit: 10_000, ...extra }));
    const all = await read(fold);
    t.same(all, await read(rows), `seed ${seed}: the same ${all.length} events`);
    for (const extra of [
      { afterSeq: 1 },
      { afterSeq: 3, limit: 2 },
      { levels: ['warn'] },
      { levels: ['info', 'debug'], afterSeq: 2 },
      { q: 'needle1' },
      { q: 'NUL' },
    ])
      t.same(
        await read(fold, extra),
        await read(rows, extra),
        `seed ${seed}: same read ${JSON.stringify(extra)}`,
      );
    for (const twin of twins) {
      const stored = await readEvents(db, { runId: twin.id, limit: 10_000 });
      const [newest] = [...(await lastSeqs(db, [twin.id])).values()];
      t.equal(newest, stored.at(-1)?.seq ?? 0, `seed ${seed}: lastSeqs is the newest seq`);
      const feedReads = [];
      const plainReads = [];
      for (let after = 0; after <= stored.length; after++)
        for (const limit of [1, 2, 1000]) {
          feedReads.push(await readFeedEvents(db, twin.id, after, limit));
          plainReads.push(await readEvents(db, { runId: twin.id, afterSeq: after, limit }));
        }
      t.strictSame(feedReads, plainReads, `seed ${seed}: the feed reads exactly what readEvents reads`);
    }
    for (const key of ['k0', 'k1', 'k2'])
      t.equal(
        await cancelledWithKey(db, fold.id, key),
        await cancelledWithKey(db, rows.id, key),
        `seed ${seed}: cancel key ${key}`,
      );
    const stepsRead = stepShape(await getRunSteps(db, fold.id));
    t.same(
      stepsRead,
      stepShape(await getRunSteps(db, rows.id)),
      `seed ${seed}: the same ${stepsRead.length} steps`,
    );
    const lanes = await laneRuns(db, 50);
    const summary = (twin: Twin) =>
      [...lanes.active, ...lanes.last]
        .filter((r) => r.id === twin.id)
        .map((r) => ({ current_step: r.current_step, last_line: r.last_line, status: r.status }));
    t.same(summary(fold), summary(rows), `seed ${seed}: lanes show the same current step and last line`);

    const stored = async (twin: Twin) =>
      (
        await sql<{ rows: number; folded: number | null; step_rows: number; folded_steps: number | null }>`
          SELECT (SELECT count(*)::int FROM run_events WHERE run_id = ${twin.id}) AS rows,
                 (SELECT cardinality(timeline) FROM runs WHERE id = ${twin.id}) AS folded,
                 (SELECT count(*)::int FROM run_steps WHERE run_id = ${twin.id}) AS step_rows,
                 (SELECT cardinality(steps) FROM runs WHERE id = ${twin.id}) AS folded_steps`.execute(db)
      ).rows[0]!;
    const f = await stored(fold);
    const r = await stored(rows);
    t.equal(r.folded, null, 'the rows twin never folds');
    t.equal(r.rows, all.length, 'the rows twin holds every event as a row');
    t.equal(f.rows + f.folded!, all.length, 'folded prefix + rows = the whole timeline, nothing twice');
    t.equal(r.folded_steps, null, 'the rows twin never folds a step');
    t.equal(r.step_rows, stepsRead.length, 'the rows twin holds every step as a row');
    t.equal(
      f.step_rows + f.folded_steps!,
      stepsRead.length,
      'folded steps + step rows = all steps, nothing twice',
    );
    if (f.folded_steps! > 0) foldedSteps++;
    if (f.folded_steps! > 0 && f.step_rows > 0) mixedSteps++;
    if (f.rows === 0 && all.length > 1) foldedRuns++;
    if (f.rows > 0 && f.folded! > 1) crossed++;
  }
  t.ok(foldedRuns >= 5, `some runs stayed wholly folded (${foldedRuns})`);
  t.ok(crossed >= 1, `some runs folded, then went on in rows (${crossed})`);
  t.ok(foldedSteps >= 5, `some runs hold step rows in the run row (${foldedSteps})`);
  t.comment(`runs with folded steps: ${foldedSteps}, of which with step rows too: ${mixedSteps}`);
});
