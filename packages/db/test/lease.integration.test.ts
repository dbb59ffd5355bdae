import t from 'tap';
import {
  appendEvents,
  backoffCapSeconds,
  cancelRun,
  claimRuns,
  completeRuns,
  heartbeatRuns,
  readEvents,
  releaseRun,
  retryRun,
} from '@ocr/db';
import { createTestDatabase, makeRun } from '@ocr/testkit';

const claimOne = async (db: Parameters<typeof claimRuns>[0], lane = 'A') => {
  const [run] = await claimRuns(db, { workerId: 'w1', lanes: [lane], limit: 1, leaseSeconds: 30 });
  if (!run) throw new Error('nothing claimed');
  return run;
};

t.test('a stale lease is rejected by every fenced operation', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRun(db, { max_attempts: 3, retry_policy: { initial_s: 0, factor: 1, max_s: 0 } });
  const first = await claimOne(db);
  // The run goes back to the queue (as the sweeper or a retry would) and is claimed again: a new lease.
  await completeRuns(db, [{ runId: first.id, leaseToken: first.lease_token!, status: 'error' }]);
  const second = await claimOne(db);
  t.not(second.lease_token, first.lease_token);
  const stale = { runId: first.id, leaseToken: first.lease_token! };
  // A newer claim holds the run: every fenced write says so (stale_attempt, with the attempt that holds it).
  const lost = { ok: false, reason: 'lease_lost', why: 'stale_attempt', status: 'running', attempt: 2 };
  t.same((await heartbeatRuns(db, [stale], 30))[0], { ...lost, worker_id: 'w1' }, 'heartbeat');
  t.same(
    await appendEvents(db, stale, [{ seq: 1, level: 'info', type: 'log', message: 'zombie' }]),
    { ...lost, worker_id: 'w1' },
    'events',
  );
  t.same(
    (await completeRuns(db, [{ ...stale, status: 'success' }]))[0],
    { ...lost, worker_id: 'w1' },
    'complete',
  );
  t.same(await releaseRun(db, stale, 'x'), { ...lost, worker_id: 'w1' }, 'release');
  const after = await db.selectFrom('runs').selectAll().where('id', '=', first.id).executeTakeFirstOrThrow();
  t.equal(after.status, 'running', 'the newer attempt is untouched');
  t.equal(after.lease_token, second.lease_token);
  const zombie = await readEvents(db, { runId: first.id, q: 'zombie' });
  t.equal(zombie.length, 0, 'nothing written by the zombie');
  const unknown = { runId: '00000000-0000-4000-8000-000000000000', leaseToken: first.lease_token! };
  t.same((await heartbeatRuns(db, [unknown], 30))[0], { ok: false, reason: 'not_found', why: 'not_found' });
});

t.test('heartbeat extends the lease and reports a cancel request', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRun(db);
  const run = await claimOne(db);
  const lease = { runId: run.id, leaseToken: run.lease_token! };
  const [beat] = await heartbeatRuns(db, [lease], 60);
  t.ok(beat?.ok && beat.value.cancel_requested === false);
  t.equal((await cancelRun(db, run.id, 'tester')).outcome, 'requested');
  const [again] = await heartbeatRuns(db, [lease], 60);
  t.ok(again?.ok && again.value.cancel_requested === true, 'cancel flag in the answer');
  const [done] = await completeRuns(db, [{ ...lease, status: 'error' }]);
  t.ok(done?.ok && done.value.status === 'cancelled', 'an error after a cancel request ends cancelled');
});

t.test(
  'a heartbeat never waits on a row another commit holds; an append counts as a heartbeat',
  async (t) => {
    const { db } = await createTestDatabase(t);
    await makeRun(db);
    await makeRun(db);
    const busy = await claimOne(db);
    const idle = await claimOne(db);
    const heartbeatOf = async (id: string) =>
      (await db.selectFrom('runs').select('heartbeat_at').where('id', '=', id).executeTakeFirstOrThrow())
        .heartbeat_at!;
    const before = await heartbeatOf(busy.id);
    const idleBefore = await heartbeatOf(idle.id);
    await new Promise((r) => setTimeout(r, 5));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    // A completion-like transaction holds the busy run's row until the heartbeat has answered.
    const holder = db.transaction().execute(async (trx) => {
      await trx.selectFrom('runs').select('id').where('id', '=', busy.id).forUpdate().execute();
      locked();
      await held;
    });
    await isLocked;
    const leases = [busy, idle].map((run) => ({ runId: run.id, leaseToken: run.lease_token! }));
    const answers = await heartbeatRuns(db, leases, 60);
    release();
    await holder;
    t.same(
      answers.map((a) => a.ok),
      [true, true],
      'both answered while one row was locked (a wait would never end here)',
    );
    t.same(await heartbeatOf(busy.id), before, 'the locked run kept its heartbeat time');
    t.ok((await heartbeatOf(idle.id)) > idleBefore, 'the other run beat');
    await appendEvents(db, leases[0]!, [{ seq: 1, level: 'info', type: 'log', message: 'alive' }]);
    t.ok((await heartbeatOf(busy.id)) > before, 'the append moved heartbeat_at');
  },
);

t.test('error with attempts left is requeued with full-jitter exponential backoff; then fails', async (t) => {
  const { db } = await createTestDatabase(t);
  const policy = { initial_s: 10, factor: 3, max_s: 50 };
  await makeRun(db, { max_attempts: 3, retry_policy: policy });
  for (let attempt = 1; attempt <= 3; attempt++) {
    const run = await claimOne(db);
    t.equal(run.attempt, attempt);
    const before = Date.now();
    const [done] = await completeRuns(db, [
      {
        runId: run.id,
        leaseToken: run.lease_token!,
        status: 'error',
        error: { code: 'step_failed', message: 'exit 1' },
      },
    ]);
    if (!done?.ok) throw new Error('complete failed');
    if (attempt < 3) {
      t.equal(done.value.status, 'queued', `attempt ${attempt} requeued`);
      t.equal(done.value.requeued, true);
      const delay = (done.value.run_at.getTime() - before) / 1000;
      const cap = backoffCapSeconds(policy, attempt);
      t.ok(delay >= -1 && delay <= cap + 1, `delay ${delay.toFixed(2)} s within [0, ${cap}]`);
      // Make it due now instead of sleeping out the backoff.
      await db
        .updateTable('runs')
        .set({ run_at: new Date(0) })
        .where('id', '=', run.id)
        .execute();
    } else {
      t.equal(done.value.status, 'error', 'out of attempts: error');
      t.same(done.value.error, { code: 'step_failed', message: 'exit 1' });
      t.ok(done.value.finished_at);
    }
  }
  t.same(
    [10, 30, 50, 50].map((_, i) => backoffCapSeconds(policy, i + 1)),
    [10, 30, 50, 50],
    'cap grows by factor, capped at max_s',
  );
});

t.test('backoff delays are spread (full jitter), not all at the cap', async (t) => {
  const { db } = await createTestDatabase(t);
  const delays: number[] = [];
  for (let i = 0; i < 30; i++)
    await makeRun(db, { max_attempts: 2, retry_policy: { initial_s: 100, factor: 2, max_s: 100 } });
  const runs = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 30, leaseSeconds: 30 });
  const results = await completeRuns(
    db,
    runs.map((r) => ({ runId: r.id, leaseToken: r.lease_token!, status: 'error' as const })),
  );
  const now = Date.now();
  for (const r of results) if (r.ok) delays.push((r.value.run_at.getTime() - now) / 1000);
  t.equal(delays.length, 30);
  t.ok(Math.min(...delays) < 50 && Math.max(...delays) > 50, 'spread across [0, 100]');
});

t.test('release hands back without spending the failure budget', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRun(db, { max_attempts: 1 });
  const run = await claimOne(db);
  const released = await releaseRun(db, { runId: run.id, leaseToken: run.lease_token! }, 'worker_shutdown');
  t.ok(released.ok && released.value.status === 'queued');
  const again = await claimOne(db);
  t.equal(again.attempt, 2, 'a new attempt number (it names the lease)');
  const [done] = await completeRuns(db, [
    { runId: again.id, leaseToken: again.lease_token!, status: 'error' },
  ]);
  t.ok(
    done?.ok && done.value.status === 'error',
    'max_attempts 1: the released attempt did not count, this one did',
  );
  const events = await readEvents(db, { runId: run.id });
  t.ok(events.some((e) => e.type === 'released' && e.message.includes('worker_shutdown')));
});

t.test('cancel: queued at once; running flagged; terminal untouched. Retry links a new run', async (t) => {
  const { db } = await createTestDatabase(t);
  const queued = await makeRun(db);
  const c1 = await cancelRun(db, queued.id, 'op');
  t.equal(c1.outcome, 'cancelled');
  t.equal((await cancelRun(db, queued.id, 'op')).outcome, 'already_finished');
  t.equal((await cancelRun(db, '00000000-0000-4000-8000-000000000000', 'op')).outcome, 'not_found');
  const retried = await retryRun(db, queued.id);
  t.equal(retried.outcome, 'created');
  if (retried.outcome === 'created') {
    t.equal(retried.run.retry_of, queued.id);
    t.equal(retried.run.status, 'queued');
    const running = await claimOne(db);
    t.equal(running.id, retried.run.id);
    t.equal((await cancelRun(db, running.id, 'op')).outcome, 'requested');
    t.equal((await cancelRun(db, running.id, 'op')).outcome, 'already_requested');
    t.equal((await retryRun(db, running.id)).outcome, 'not_retryable', 'a running run is not retried');
  }
});

t.test('events: batch append, idempotent replay, order, sanitising NUL and broken unicode', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRun(db);
  const run = await claimOne(db);
  const lease = { runId: run.id, leaseToken: run.lease_token! };
  const batch = Array.from({ length: 100 }, (_, i) => ({
    seq: i + 1,
    level: 'info' as const,
    type: 'log',
    message: `line ${i + 1}`,
    data: { stream: 'stdout' },
  }));
  const first = await appendEvents(db, lease, batch);
  t.same(
    first,
    { ok: true, value: { accepted: 100, last_seq: 100, run_seq: 101 } },
    'run_seq: after the claimed event (seq 1)',
  );
  const replay = await appendEvents(db, lease, batch.slice(50));
  t.same(
    replay,
    { ok: true, value: { accepted: 0, last_seq: 100, run_seq: null } },
    'a retried batch inserts nothing twice',
  );
  const nasty = await appendEvents(db, lease, [
    {
      seq: 101,
      level: 'warn',
      type: 'log',
      message: 'nul\u0000byte and lone \ud800 surrogate',
      data: { 'k\u0000': 'v\udfff' },
    },
  ]);
  t.ok(nasty.ok, 'never a failed append');
  const events = await readEvents(db, { runId: run.id, limit: 10_000 });
  const logs = events.filter((e) => e.type === 'log');
  t.same(
    logs.slice(0, 100).map((e) => e.message),
    batch.map((e) => e.message),
    'in order, complete',
  );
  t.ok(
    events.every((e, i) => i === 0 || e.seq > events[i - 1]!.seq),
    'seq strictly increasing',
  );
  t.equal(logs[100]!.message, 'nul\uFFFDbyte and lone \uFFFD surrogate');
  t.same(logs[100]!.data, { 'k\uFFFD': 'v\uFFFD' });
  t.equal((await readEvents(db, { runId: run.id, levels: ['warn'] })).length, 1, 'level filter');
  t.equal(
    (await readEvents(db, { runId: run.id, q: 'LINE 9' })).length,
    11,
    'case-insensitive search: line 9 and 90-99',
  );
});

t.test('step events maintain run_steps', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRun(db);
  const run = await claimOne(db);
  const lease = { runId: run.id, leaseToken: run.lease_token! };
  await appendEvents(db, lease, [
    { seq: 1, level: 'info', type: 'step.started', step: 'greet', data: { index: 0, kind: 'shell' } },
    {
      seq: 2,
      level: 'info',
      type: 'step.finished',
      step: 'greet',
      data: { index: 0, kind: 'shell', status: 'success', exit_code: 0 },
    },
  ]);
  const steps = await db.selectFrom('run_steps').selectAll().where('run_id', '=', run.id).execute();
  t.equal(steps.length, 1);
  t.match(steps[0], { name: 'greet', kind: 'shell', status: 'success', exit_code: 0 });
});
