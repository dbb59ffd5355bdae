// completeRunsWithEvents (issue 19) stores exactly what the two statements it replaces stored (appendEventsMany
// then completeRuns, in one transaction): the same events, steps and run rows, for every kind of outcome
// (success, requeue, final error, cancel requested, replayed events, lost lease, unknown run), generated
// over many random batches and compared side by side. The one-statement implementations fold a small run's
// timeline into its run row (timeline.ts) where the two statements write rows: what every reader reads (the
// `run_timeline` view) must be the same, for runs that fold, runs that cross the fold bound mid-batch, runs
// that never fold (timeline NULL, as before the migration), replays, NUL bytes and invalid text.
import t from 'tap';
import { deepStrictEqual } from 'node:assert';
import { sql, type Kysely } from 'kysely';
import {
  appendEvents,
  appendEventsMany,
  cancelRun,
  claimRuns,
  completeRuns,
  completeRunsWithEvents,
  completeRunWithEvents,
  type CompletionWithEvents,
  type Database,
  type EventInput,
  HOT_RUN_COLUMNS,
} from '@ocr/db';
import { createTestDatabase, makeRuns } from '@ocr/testkit';
import { seededRandom as rng } from '@ocr/testkit/random';

type Plan = {
  status: 'success' | 'error' | 'cancelled';
  cancel: boolean;
  preAppended: number;
  events: number;
  replay: boolean;
  lostLease: boolean;
  maxAttempts: number;
  /** Timeline NULL from the start: the run never folds (a run from before the migration). */
  unfolded: boolean;
  /** NUL bytes and lone surrogates in messages and data. */
  dirty: boolean;
};

function events(from: number, to: number, ok: boolean, dirty = false): EventInput[] {
  const out: EventInput[] = [];
  for (let seq = from; seq <= to; seq++) {
    const kind = seq === 1 ? 'step.started' : seq === to && ok ? 'step.finished' : 'log';
    out.push({
      seq,
      ts: '2020-01-01T00:00:00.000Z',
      level: 'info',
      type: kind,
      step: 's',
      message: dirty ? `nul\u0000 lone \ud800 ${seq}` : `line ${seq} "quoted" \\ back\\slash {braces} ,comma`,
      data:
        kind === 'log'
          ? { stream: 'stdout', n: seq, nested: { a: [1, null, dirty ? 'x\u0000\udc00' : 'x'] } }
          : { index: 0, kind: 'shell', status: 'success', exit_code: 0 },
    });
  }
  return out;
}

/** Run the plan against fresh runs with one of the two implementations; returns what was stored, by plan index. */
async function play(
  db: Kysely<Database>,
  lane: string,
  plans: Plan[],
  impl: 'two-statements' | 'one-statement' | 'one-run-each',
): Promise<{ stored: unknown[]; storage: ('folded' | 'rows')[] }> {
  const runs = [];
  for (const plan of plans) {
    const [run] = await makeRuns(db, 1, { lane, max_attempts: plan.maxAttempts, template: 'eq' });
    if (plan.unfolded) await sql`UPDATE runs SET timeline = NULL WHERE id = ${run!.id}`.execute(db);
    runs.push(run!);
  }
  const claimed = await claimRuns(db, {
    workerId: 'w',
    lanes: [lane],
    limit: plans.length,
    leaseSeconds: 60,
  });
  const byId = new Map(claimed.map((r) => [r.id, r]));
  const items: CompletionWithEvents[] = [];
  for (const [i, plan] of plans.entries()) {
    const run = byId.get(runs[i]!.id)!;
    const lease = { runId: run.id, leaseToken: run.lease_token! };
    if (plan.preAppended > 0) await appendEvents(db, lease, events(1, plan.preAppended, false));
    if (plan.cancel) await cancelRun(db, run.id, 'test');
    const from = plan.replay ? Math.max(1, plan.preAppended - 1) : plan.preAppended + 1;
    items.push({
      runId: run.id,
      leaseToken: plan.lostLease ? '00000000-0000-4000-8000-000000000000' : lease.leaseToken,
      status: plan.status,
      error: plan.status === 'error' ? { code: 'step_failed', message: 'exit 1' } : null,
      output: plan.status === 'success' ? { s: { ok: true, text: 'a"b\\c' } } : undefined,
      events: events(from, plan.preAppended + plan.events, plan.status === 'success', plan.dirty),
    });
  }
  // One unknown run in every batch.
  items.push({
    runId: '00000000-0000-4000-8000-00000000000a',
    leaseToken: '00000000-0000-4000-8000-000000000000',
    status: 'success',
    events: events(1, 2, true),
  });
  let outcomes: unknown[];
  if (impl === 'one-run-each') {
    // POST /v1/runs/:id/complete: one statement per run, answered with the whole run row.
    outcomes = [];
    for (const item of items) {
      const r = await completeRunWithEvents(db, item);
      if (r.ok) {
        const { requeued, accepted, ...row } = r.value;
        const stored = await db
          .selectFrom('runs')
          .select([...HOT_RUN_COLUMNS])
          .where('id', '=', item.runId)
          .executeTakeFirst();
        deepStrictEqual(row, stored, "the answer is the run row's wire columns as stored");
        outcomes.push({ ok: true, status: row.status, requeued, accepted, last_seq: Number(row.last_seq) });
      } else outcomes.push(r);
    }
  } else if (impl === 'one-statement') {
    outcomes = (await completeRunsWithEvents(db, items)).map((r) =>
      r.ok
        ? {
            ok: true,
            status: r.value.status,
            requeued: r.value.requeued,
            accepted: r.value.accepted,
            last_seq: r.value.last_seq,
          }
        : r,
    );
  } else {
    outcomes = await db.transaction().execute(async (trx) => {
      const withEvents = items.filter((c) => c.events?.length);
      const appended = await appendEventsMany(
        trx,
        withEvents.map((c) => ({ lease: { runId: c.runId, leaseToken: c.leaseToken }, events: c.events! })),
      );
      const byItem = new Map(withEvents.map((c, i) => [c, appended[i]!]));
      const done = await completeRuns(trx, items);
      return done.map((r, i) => {
        const a = byItem.get(items[i]!) ?? { ok: false };
        return r.ok
          ? {
              ok: true,
              status: r.value.status,
              requeued: r.value.requeued,
              accepted: a.ok ? a.value.accepted : 0,
              last_seq: Number(r.value.last_seq),
            }
          : r;
      });
    });
  }
  const stored = [];
  const storage: ('folded' | 'rows')[] = [];
  for (const [i, run] of runs.entries()) {
    const row = await db
      .selectFrom('runs')
      .select([
        'status',
        'attempt',
        'last_seq',
        'error',
        'output',
        'lease_token',
        'cancel_requested',
        'finished_at',
      ])
      .where('id', '=', run.id)
      .executeTakeFirstOrThrow();
    const evs = await db
      .selectFrom('run_timeline')
      .select(['seq', 'attempt', 'attempt_seq', 'level', 'type', 'step', 'message', 'data'])
      .where('run_id', '=', run.id)
      .orderBy('seq')
      .execute();
    // The steps as readers read them: rows, or folded into the run row with the timeline.
    const steps = await db
      .selectFrom('run_steps_all')
      .select(['attempt', 'idx', 'name', 'kind', 'status', 'exit_code'])
      .select((eb) => eb('finished_at', 'is not', null).as('finished'))
      .where('run_id', '=', run.id)
      .orderBy('attempt')
      .orderBy('idx')
      .execute();
    const { lease_token, finished_at, ...rest } = row;
    const rows = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM run_events WHERE run_id = ${run.id}`.execute(db);
    storage.push(rows.rows[0]!.n === 0 ? 'folded' : 'rows');
    stored.push({
      outcome: outcomes[i],
      run: { ...rest, leased: lease_token !== null, finished: finished_at !== null },
      // The requeue message carries the retry time; its shape is what must match.
      events: evs.map((e) => ({ ...e, message: e.message.replace(/retry at .*/, 'retry at <ts>') })),
      steps,
    });
  }
  stored.push({ outcome: outcomes[plans.length] });
  return { stored, storage };
}

/**
 * Whether one statement keeps this plan's whole timeline in the run row: claimed + events + status ≤ 32 (and
 * under the byte bound), or only the claim's event when the lease is lost.
 */
const folds = (plan: Plan) =>
  !plan.unfolded && !plan.cancel && plan.preAppended === 0 && (plan.lostLease || 1 + plan.events + 1 <= 32);

t.test('one statement stores what append + complete in one transaction stored', async (t) => {
  const { db } = await createTestDatabase(t);
  const seen = new Set<string>();
  for (let seed = 1; seed <= 12; seed++) {
    const random = rng(seed);
    const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
    const plans: Plan[] = Array.from({ length: 1 + Math.floor(random() * 8) }, () => {
      const preAppended = pick([0, 0, 2, 5]);
      return {
        status: pick(['success', 'success', 'error', 'cancelled'] as const),
        cancel: random() < 0.2,
        preAppended,
        events: pick([0, 1, 3, 20]),
        replay: preAppended > 0 && random() < 0.5,
        lostLease: random() < 0.15,
        maxAttempts: pick([1, 2]),
        unfolded: random() < 0.2,
        dirty: random() < 0.3,
      };
    });
    // Now and then a run whose events cross the fold bound in this very batch (30 + claimed + status > 32).
    if (random() < 0.5)
      plans.push({
        ...plans[0]!,
        ...{ preAppended: 0, replay: false, unfolded: false, cancel: false, lostLease: false },
        events: pick([8, 31, 45]),
      });
    const before = await play(db, `old${seed}`, plans, 'two-statements');
    t.ok(
      before.storage.every((s) => s === 'rows' || s === 'folded'),
      'two statements: rows after the claim',
    );
    const after = await play(db, `new${seed}`, plans, 'one-statement');
    t.same(after.stored, before.stored, `seed ${seed}: ${plans.length} runs, same timeline and answers`);
    for (const [i, plan] of plans.entries()) {
      // Small batches always fold; long ones fold while under the byte bound too; the rest never do.
      if (!folds(plan)) t.equal(after.storage[i], 'rows', `seed ${seed} run ${i}: rows`);
      else if (plan.events <= 3 || plan.lostLease)
        t.equal(after.storage[i], 'folded', `seed ${seed} run ${i}: folded`);
      const eligible = !plan.unfolded && !plan.cancel && plan.preAppended === 0 && !plan.lostLease;
      seen.add(`${eligible ? plan.events : 'no'}:${after.storage[i]}`);
    }
    const single = await play(db, `one${seed}`, plans, 'one-run-each');
    t.same(single.stored, before.stored, `seed ${seed}: one run per call, same timeline and answers`);
    t.same(single.storage, after.storage, `seed ${seed}: one run per call folds the same runs`);
  }
  t.ok(seen.has('1:folded') && seen.has('3:folded'), 'small runs folded');
  t.ok(seen.has('31:rows') && seen.has('45:rows'), 'runs crossing the bound mid-batch went to rows', {
    seen: [...seen],
  });
  t.ok(seen.has('no:rows'), 'runs that may not fold wrote rows');
});

t.test('a run named twice in one call: its batches apply in order (fallback)', async (t) => {
  const { db } = await createTestDatabase(t);
  const [run] = await makeRuns(db, 1);
  const [claimed] = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 1, leaseSeconds: 60 });
  const lease = { runId: run!.id, leaseToken: claimed!.lease_token! };
  const results = await completeRunsWithEvents(db, [
    { ...lease, status: 'success', events: events(1, 2, false) },
    { ...lease, status: 'success', events: events(3, 4, true) },
  ]);
  t.match(results[0], { ok: true, value: { status: 'success' } });
  const seqs = await db
    .selectFrom('run_timeline')
    .select(['seq', 'type'])
    .where('run_id', '=', run!.id)
    .orderBy('seq')
    .execute();
  t.same(
    seqs.map((e) => e.type),
    ['claimed', 'step.started', 'log', 'log', 'step.finished', 'status'],
    'both batches of events, in order, then one status',
  );
});
