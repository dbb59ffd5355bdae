import t from 'tap';
import {
  claimRuns,
  completeRuns,
  findStaleRuns,
  heartbeatRuns,
  readEvents,
  sweepStaleRuns,
  finishAbandonedCancels,
  cancelRun,
} from '@ocr/db';
import { createTestDatabase, makeRun, makeRuns } from '@ocr/testkit';

const future = (s: number) => new Date(Date.now() + s * 1000);

t.test('sweep requeues a stale run once; the next claim bumps attempt by one', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRun(db, { max_infra_losses: 3, retry_policy: { initial_s: 0, factor: 1, max_s: 0 } });
  const [run] = await claimRuns(db, { workerId: 'dead', lanes: ['A'], limit: 1, leaseSeconds: 15 });
  t.same(await findStaleRuns(db, { timeoutS: 15, limit: 10 }), [], 'fresh heartbeat is not stale');
  const seen = await findStaleRuns(db, { timeoutS: 15, limit: 10, now: future(16) });
  t.equal(seen.length, 1);
  const swept = await sweepStaleRuns(db, seen, future(16));
  t.equal(swept.length, 1);
  t.equal(swept[0]!.action, 'requeued');
  t.same(await sweepStaleRuns(db, seen, future(16)), [], 'a second sweep of the same sighting does nothing');
  const [again] = await claimRuns(db, {
    workerId: 'alive',
    lanes: ['A'],
    limit: 1,
    leaseSeconds: 15,
    now: future(17),
  });
  t.equal(again!.attempt, run!.attempt + 1, 'attempt +1, not +2');
  const events = await readEvents(db, { runId: run!.id });
  t.ok(
    events.some(
      (e) => e.type === 'requeued' && /heartbeat lost from worker dead after \d+(\.\d)? s/.test(e.message),
    ),
  );
});

t.test('sweep only touches what it saw: a heartbeat or completion in between wins', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRuns(db, 3);
  const runs = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 3, leaseSeconds: 15 });
  const seen = await findStaleRuns(db, { timeoutS: 15, limit: 10, now: future(20) });
  t.equal(seen.length, 3);
  const [a, b] = runs;
  await new Promise((r) => setTimeout(r, 5)); // heartbeat_at has millisecond precision
  await heartbeatRuns(db, [{ runId: a!.id, leaseToken: a!.lease_token! }], 15);
  await completeRuns(db, [{ runId: b!.id, leaseToken: b!.lease_token!, status: 'success' }]);
  const swept = await sweepStaleRuns(db, seen, future(20));
  t.same(
    swept.map((r) => r.id),
    [runs[2]!.id],
    'only the untouched run is swept',
  );
  const statusOf = async (id: string) =>
    (await db.selectFrom('runs').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
  t.equal(await statusOf(a!.id), 'running');
  t.equal(await statusOf(b!.id), 'success', 'a finished run never changes again');
});

t.test('infrastructure budget: after max_infra_losses the run fails with heartbeat_timeout', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRun(db, {
    max_infra_losses: 2,
    max_attempts: 5,
    retry_policy: { initial_s: 0, factor: 1, max_s: 0 },
  });
  let clock = 0;
  for (const expected of ['requeued', 'failed']) {
    clock += 100;
    await claimRuns(db, { workerId: 'crashy', lanes: ['A'], limit: 1, leaseSeconds: 15, now: future(clock) });
    const seen = await findStaleRuns(db, { timeoutS: 15, limit: 10, now: future(clock + 20) });
    const [swept] = await sweepStaleRuns(db, seen, future(clock + 20));
    t.equal(swept?.action, expected);
  }
  const run = await db.selectFrom('runs').selectAll().executeTakeFirstOrThrow();
  t.equal(run.status, 'error');
  t.match(run.error, { code: 'heartbeat_timeout' });
  t.equal(run.infra_losses, 2);
});

t.test('stale runs are paged in bounded batches', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRuns(db, 25);
  await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 25, leaseSeconds: 15 });
  const first = await findStaleRuns(db, { timeoutS: 15, limit: 10, now: future(20) });
  const last = first[first.length - 1]!;
  const second = await findStaleRuns(db, {
    timeoutS: 15,
    limit: 10,
    now: future(20),
    after: { heartbeat_at: last.heartbeat_at, id: last.id },
  });
  t.equal(first.length, 10);
  t.equal(second.length, 10);
  t.equal(new Set([...first, ...second].map((r) => r.id)).size, 20, 'pages do not overlap');
});

t.test('unacknowledged cancels are finished after the grace', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRun(db);
  const [run] = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 1, leaseSeconds: 15 });
  await cancelRun(db, run!.id, 'op');
  t.same(
    await finishAbandonedCancels(db, { graceS: 30, limit: 10 }),
    [],
    'within the grace: left to the worker',
  );
  const done = await finishAbandonedCancels(db, { graceS: 30, limit: 10, now: future(31) });
  t.equal(done[0]?.status, 'cancelled');
});
