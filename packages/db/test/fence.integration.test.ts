import t from 'tap';
import {
  appendEvents,
  claimRuns,
  completeArtifact,
  completeRuns,
  createArtifact,
  diagnoseFence,
  leasedRun,
} from '@ocr/db';
import { createTestDatabase, makeRun } from '@ocr/testkit';

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

t.test('diagnoseFence: not found, not running, stale attempt, wrong worker', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRun(db, { max_attempts: 3, retry_policy: { initial_s: 0, factor: 1, max_s: 0 } });
  const [first] = await claimRuns(db, { workerId: 'w1', lanes: ['A'], limit: 1, leaseSeconds: 30 });
  const lease = { runId: first!.id, leaseToken: first!.lease_token! };
  t.same((await diagnoseFence(db, [{ runId: UNKNOWN, leaseToken: UNKNOWN }])).get(UNKNOWN), {
    reason: 'not_found',
    why: 'not_found',
  });
  t.ok((await leasedRun(db, lease)).ok, 'the lease is current');

  // Requeued (an error with attempts left): the run is queued, no longer running.
  await completeRuns(db, [{ ...lease, status: 'error' }]);
  t.match((await diagnoseFence(db, [lease])).get(lease.runId), {
    reason: 'lease_lost',
    why: 'not_running',
    status: 'queued',
  });

  // Claimed again by another worker: a newer attempt holds it.
  const [second] = await claimRuns(db, { workerId: 'w2', lanes: ['A'], limit: 1, leaseSeconds: 30 });
  t.equal(second!.id, lease.runId);
  t.same((await diagnoseFence(db, [lease])).get(lease.runId), {
    reason: 'lease_lost',
    why: 'stale_attempt',
    status: 'running',
    attempt: 2,
    worker_id: 'w2',
  });
  t.match((await diagnoseFence(db, [{ ...lease, workerId: 'w1' }])).get(lease.runId), {
    why: 'wrong_worker',
    worker_id: 'w2',
  });
  t.match(await leasedRun(db, lease), { ok: false, why: 'stale_attempt' }, 'reads fenced the same way');
  t.match(
    await appendEvents(db, lease, [{ seq: 1, level: 'info', type: 'log' }]),
    { ok: false, reason: 'lease_lost', why: 'stale_attempt', attempt: 2 },
    'a fenced write reports the diagnosis',
  );
});

t.test('completeArtifact is a compare-and-set on the artifact and its run lease', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRun(db, { max_attempts: 3, retry_policy: { initial_s: 0, factor: 1, max_s: 0 } });
  const [run] = await claimRuns(db, { workerId: 'w1', lanes: ['A'], limit: 1, leaseSeconds: 30 });
  const lease = { runId: run!.id, leaseToken: run!.lease_token! };
  const declare = () =>
    createArtifact(db, {
      run_id: lease.runId,
      lease_token: lease.leaseToken,
      name: 'out.bin',
      kind: 'file',
      content_type: 'application/octet-stream',
      size: 3,
      sha256: 'a'.repeat(64),
      object_key_prefix: 'runs/',
    });
  const pending = (await declare())!;
  const stranded = (await declare())!;
  t.equal(pending.status, 'pending');

  t.same(await completeArtifact(db, { id: UNKNOWN, leaseToken: lease.leaseToken }), { outcome: 'not_found' });
  const done = await completeArtifact(db, { id: pending.id, leaseToken: lease.leaseToken });
  t.match(done, { outcome: 'ready', artifact: { status: 'ready' } });
  t.match(await completeArtifact(db, { id: pending.id, leaseToken: lease.leaseToken }), {
    outcome: 'already_ready',
  });

  // The attempt ends (requeued) while the second object is being verified: the compare-and-set matches
  // nothing and the artifact stays pending.
  await completeRuns(db, [{ ...lease, status: 'error' }]);
  const late = await completeArtifact(db, { id: stranded.id, leaseToken: lease.leaseToken });
  t.match(late, { outcome: 'lease_lost', miss: { reason: 'lease_lost', why: 'not_running' } });
  const row = await db
    .selectFrom('artifacts')
    .select('status')
    .where('id', '=', stranded.id)
    .executeTakeFirstOrThrow();
  t.equal(row.status, 'pending', 'a zombie cannot flip the artifact');
});
