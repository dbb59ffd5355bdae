// completeRunsWithEvents (issue 19) stores exactly what the two statements it replaces stored (appendEventsMany
// then completeRuns, in one transaction): the same events, steps and run rows, for every kind of outcome
// (success, requeue, final error, cancel requested, replayed events, lost lease, unknown run), generated
// over many random batches and compared side by side.
import t from 'tap';
import { deepStrictEqual } from 'node:assert';
import type { Kysely } from 'kysely';
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
};

function events(from: number, to: number, ok: boolean): EventInput[] {
  const out: EventInput[] = [];
  for (let seq = from; seq <= to; seq++) {
    const kind = seq === 1 ? 'step.started' : seq === to && ok ? 'step.finished' : 'log';
    out.push({
      seq,
      ts: '2020-01-01T00:00:00.000Z',
      level: 'info',
      type: kind,
      step: 's',
      message: `line ${seq} "quoted" \\ back\\slash {braces} ,comma`,
      data:
        kind === 'log'
          ? { stream: 'stdout', n: seq, nested: { a: [1, null, 'x'] } }
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
): Promise<unknown[]> {
  const runs = [];
  for (const plan of plans)
    runs.push(...(await makeRuns(db, 1, { lane, max_attempts: plan.maxAttempts, template: 'eq' })));
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
      events: events(from, plan.preAppended + plan.events, plan.status === 'success'),
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
      .selectFrom('run_events')
      .select(['seq', 'attempt', 'attempt_seq', 'level', 'type', 'step', 'message', 'data'])
      .where('run_id', '=', run.id)
      .orderBy('seq')
      .execute();
    const steps = await db
      .selectFrom('run_steps')
      .select(['attempt', 'idx', 'name', 'kind', 'status', 'exit_code'])
      .select((eb) => eb('finished_at', 'is not', null).as('finished'))
      .where('run_id', '=', run.id)
      .execute();
    const { lease_token, finished_at, ...rest } = row;
    stored.push({
      outcome: outcomes[i],
      run: { ...rest, leased: lease_token !== null, finished: finished_at !== null },
      // The requeue message carries the retry time; its shape is what must match.
      events: evs.map((e) => ({ ...e, message: e.message.replace(/retry at .*/, 'retry at <ts>') })),
      steps,
    });
  }
  stored.push({ outcome: outcomes[plans.length] });
  return stored;
}

t.test('one statement stores what append + complete in one transaction stored', async (t) => {
  const { db } = await createTestDatabase(t);
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
      };
    });
    const before = await play(db, `old${seed}`, plans, 'two-statements');
    const after = await play(db, `new${seed}`, plans, 'one-statement');
    t.same(after, before, `seed ${seed}: ${plans.length} runs, same rows and answers`);
    const single = await play(db, `one${seed}`, plans, 'one-run-each');
    t.same(single, before, `seed ${seed}: one run per call, same rows and answers`);
  }
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
    .selectFrom('run_events')
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
