import t from 'tap';
import { ApiError } from '@ocr/client';
import { startStack } from '@ocr/testkit';

/**
 * Regression for issue 14: a claim with another worker's `worker_id` and a new `boot_id`, sent with any
 * worker token, requeued that worker's running runs as "orphaned by restart" (past max_attempts: 1), and
 * created every lane it named. A worker identity now belongs to the token that registered it.
 */

const ONCE = {
  name: 'once',
  default_lane: 'A',
  retry: { max_attempts: 1 },
  steps: [{ name: 's', kind: 'shell' as const, script: 'sleep 60' }],
};

t.test(
  'a spoofed claim (another token, same worker_id, new boot) is refused and changes nothing',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await stack.client.templates.create(ONCE);
    const { client: victim } = await stack.tokenFor('worker');
    const { client: attacker } = await stack.tokenFor('worker');
    const { run } = await stack.client.runs.create({ template: 'once' });
    const { runs } = await victim.worker.claim({ worker_id: 'w-victim', boot_id: 'boot-1', lanes: ['A'] });
    t.equal(runs[0]?.run.id, run.id);
    const lease = runs[0]!.lease_token;

    for (const boot of ['boot-2', 'boot-1']) {
      const err = await attacker.worker
        .claim({ worker_id: 'w-victim', boot_id: boot, lanes: ['A', 'spoofed-lane'] })
        .catch((e: unknown) => e);
      t.ok(
        err instanceof ApiError && err.status === 403 && err.code === 'forbidden',
        `refused with 403 forbidden (boot ${boot})`,
      );
    }
    const after = (await stack.client.runs.get(run.id)).run;
    t.equal(after.status, 'running', 'the victim run is still running');
    t.equal(after.attempt, 1, 'not requeued, not re-executed');
    const { events } = await stack.client.runs.events(run.id);
    t.notOk(
      events.some((e) => e.type === 'requeued'),
      'no requeue event',
    );
    const beat = await victim.worker.heartbeat(run.id, lease);
    t.equal(beat.cancel_requested, false, 'the victim still holds its lease');
    const { rows } = await stack.db.pool.query(`SELECT name FROM lanes WHERE name = 'spoofed-lane'`);
    t.same(rows, [], 'no lane created');
    const { workers } = await stack.client.workers.list();
    t.match(
      workers,
      [{ id: 'w-victim', boot_id: 'boot-1', lanes: ['A'] }],
      'the registration is the victim’s',
    );

    // Its own new boot still triggers restart detection: the old boot's lease is requeued at once.
    await victim.worker.claim({ worker_id: 'w-victim', boot_id: 'boot-2', lanes: ['B'] });
    const restarted = (await stack.client.runs.get(run.id)).run;
    t.equal(restarted.status, 'queued', 'same token, new boot: orphaned lease requeued');
  },
);

t.test('a dead identity may be taken over by another token, without restart detection', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create(ONCE);
  const { client: first } = await stack.tokenFor('worker');
  const { client: second } = await stack.tokenFor('worker');
  const { run } = await stack.client.runs.create({ template: 'once' });
  await first.worker.claim({ worker_id: 'w1', boot_id: 'boot-1', lanes: ['A'] });
  await stack.db.pool.query(
    `UPDATE workers SET last_seen_at = now() - interval '10 minutes' WHERE id = 'w1'`,
  );
  await second.worker.claim({ worker_id: 'w1', boot_id: 'boot-9', lanes: ['B'] });
  const { workers } = await stack.client.workers.list();
  t.match(workers, [{ id: 'w1', boot_id: 'boot-9' }], 'taken over');
  const after = (await stack.client.runs.get(run.id)).run;
  t.equal(after.status, 'running', 'the old lease is left to the sweeper, not requeued by another token');
  const err = await first.worker
    .claim({ worker_id: 'w1', boot_id: 'boot-2', lanes: ['A'] })
    .catch((e: unknown) => e);
  t.ok(err instanceof ApiError && err.status === 403, 'now the first token is the stranger');
});

t.test('a claim never creates lanes; lanes live workers serve are listed without a row', async (t) => {
  const stack = await startStack(t, { s3: false });
  const { client: w } = await stack.tokenFor('worker');
  await w.worker.claim({ worker_id: 'w1', boot_id: 'b', lanes: ['served-only'] });
  const { rows } = await stack.db.pool.query(`SELECT name FROM lanes WHERE name = 'served-only'`);
  t.same(rows, [], 'no lanes row');
  const { lanes } = await stack.client.lanes.list();
  t.match(
    lanes.find((l) => l.name === 'served-only'),
    { name: 'served-only', paused: false, max_concurrency: null, depth: 0, workers_live: 1 },
    'shown on the runboard while a live worker serves it',
  );
  await stack.db.pool.query(`UPDATE workers SET last_seen_at = now() - interval '10 minutes'`);
  t.notOk(
    (await stack.client.lanes.list()).lanes.some((l) => l.name === 'served-only'),
    'gone with the worker',
  );
});
