import t from 'tap';
import { startStack } from '@ocr/testkit';
import { eventually, spawnOcr } from '@ocr/testkit';

const TIMEOUT_S = 3;
const INTERVAL_S = 0.5;
const FAST = {
  OCR_HEARTBEAT_INTERVAL_S: '0.5',
  OCR_HEARTBEAT_TIMEOUT_S: String(TIMEOUT_S),
  OCR_SWEEP_INTERVAL_S: String(INTERVAL_S),
  OCR_KILL_GRACE_S: '0.5',
};

t.test(
  'a worker killed with SIGKILL mid-run: the run is requeued and finished by another worker in time',
  async (t) => {
    const stack = await startStack(t, { s3: false, env: { OCR_HEARTBEAT_TIMEOUT_S: String(TIMEOUT_S) } });
    await stack.client.templates.create({
      name: 'slowish',
      steps: [{ name: 'work', kind: 'shell', script: 'echo start; sleep 2; echo end' }],
    });
    const { token } = await stack.tokenFor('worker');
    const workerEnv = {
      ...stack.env,
      ...FAST,
      OCR_TOKEN: token,
      OCR_LANES: 'A',
      PORT: '0',
      OCR_CLAIM_WAIT_MS: '1000',
    };
    const sweeper = spawnOcr(t, 'sweeper', { ...stack.env, ...FAST, PORT: '0' });
    await sweeper.waitForLog((l) => l.msg === 'became sweeper leader');
    const doomed = spawnOcr(t, 'worker', { ...workerEnv, OCR_WORKER_ID: 'doomed' });
    await doomed.waitForLog((l) => l.msg === 'worker started');
    // The sweeper warms up for one heartbeat timeout after taking the lead; start the clock after that.
    await sweeper.waitForLog((l) => l.msg === 'became sweeper leader');
    await new Promise((r) => setTimeout(r, TIMEOUT_S * 1000));
    const { run } = await stack.client.runs.create({ template: 'slowish' });
    await eventually(async () =>
      (await stack.client.runs.events(run.id)).events.some((e) => e.message === 'start'),
    );
    doomed.child.kill('SIGKILL');
    const killedAt = Date.now();
    const rescuer = spawnOcr(t, 'worker', { ...workerEnv, OCR_WORKER_ID: 'rescuer' });
    const requeued = await eventually(async () => {
      const { events } = await stack.client.runs.events(run.id);
      return events.find((e) => e.type === 'requeued') ? Date.now() : undefined;
    });
    const recoveryS = (requeued - killedAt) / 1000;
    t.ok(
      recoveryS <= TIMEOUT_S + INTERVAL_S + 1,
      `requeued ${recoveryS.toFixed(2)} s after the kill (limit ${TIMEOUT_S + INTERVAL_S + 1} s)`,
    );
    const done = await eventually(async () => {
      const { run: r } = await stack.client.runs.get(run.id);
      return r.status === 'success' ? r : undefined;
    });
    t.equal(done.attempt, 2, 'second attempt, by the other worker');
    const { events } = await stack.client.runs.events(run.id);
    t.ok(events.some((e) => e.type === 'requeued' && /heartbeat lost from worker doomed/.test(e.message)));
    t.ok(events.some((e) => e.type === 'claimed' && /rescuer/.test(e.message)));
    rescuer.child.kill('SIGTERM');
    t.equal(await rescuer.exited, 0, 'rescuer exits cleanly on SIGTERM');
  },
);

t.test(
  'SIGTERM: the worker stops claiming, hands unfinished runs back within the grace, exits 0',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await stack.client.templates.create({
      name: 'long',
      steps: [{ name: 'work', kind: 'shell', script: 'echo start; sleep 60' }],
    });
    const { token } = await stack.tokenFor('worker');
    const worker = spawnOcr(t, 'worker', {
      ...stack.env,
      ...FAST,
      OCR_TOKEN: token,
      OCR_LANES: 'A',
      PORT: '0',
      OCR_SHUTDOWN_GRACE_S: '2',
      OCR_WORKER_ID: 'leaving',
    });
    const { run } = await stack.client.runs.create({ template: 'long' });
    await eventually(async () =>
      (await stack.client.runs.events(run.id)).events.some((e) => e.message === 'start'),
    );
    const signalled = Date.now();
    worker.child.kill('SIGTERM');
    t.equal(await worker.exited, 0, 'exit 0');
    t.ok(Date.now() - signalled < 4000, 'before the grace plus a margin');
    const { run: after } = await stack.client.runs.get(run.id);
    t.equal(after.status, 'queued', `handed back, queued at once (${JSON.stringify(after)})`);
    t.equal(after.wait_reason?.startsWith('backoff'), false, 'no backoff for a hand-back');
    const { events } = await stack.client.runs.events(run.id);
    t.ok(events.some((e) => e.type === 'released' && /worker_shutdown/.test(e.message)));
  },
);

t.test(
  'a zombie (SIGSTOP past its lease, then SIGCONT) gets lease_lost, kills its step and writes nothing more',
  async (t) => {
    const stack = await startStack(t, { s3: false, env: { OCR_HEARTBEAT_TIMEOUT_S: String(TIMEOUT_S) } });
    const marker = `/tmp/ocr-zombie-${process.pid}-${Date.now()}`;
    await stack.client.templates.create({
      name: 'ticker',
      steps: [
        {
          name: 'tick',
          kind: 'shell',
          script: `i=0; while [ $i -lt 400 ]; do echo "tick $i"; i=$((i+1)); sleep 0.05; done; touch ${marker}`,
        },
      ],
    });
    const { token } = await stack.tokenFor('worker');
    // One slot, taken by the run: the zombie holds no long-poll claim while frozen. A claim parked in the API
    // before the SIGSTOP would (correctly) be handed the requeued run and race this test's own claim below;
    // that was this test's flake (the frozen worker won whenever the API's claim ran between the test's
    // UPDATE and its claim). Stale claim replies have their own test below.
    const zombie = spawnOcr(t, 'worker', {
      ...stack.env,
      ...FAST,
      OCR_TOKEN: token,
      OCR_LANES: 'A',
      PORT: '0',
      OCR_WORKER_ID: 'zombie',
      OCR_CONCURRENCY: '1',
    });
    // A process start on a loaded machine can take many seconds: wait for it, not for a fixed time.
    await zombie.waitForLog((l) => l.msg === 'worker started', 60_000);
    const { run } = await stack.client.runs.create({ template: 'ticker' });
    await eventually(
      async () => (await stack.client.runs.events(run.id)).events.some((e) => e.message === 'tick 3'),
      30_000,
    );
    zombie.child.kill('SIGSTOP');
    // While it is frozen, the run's lease lapses and (as the sweeper would) it is requeued and claimed anew.
    const { findStaleRuns, sweepStaleRuns, claimRuns } = await import('@ocr/db');
    const stale = await eventually(
      async () => {
        const found = await findStaleRuns(stack.db.db, { timeoutS: TIMEOUT_S, limit: 10 });
        return found.length ? found : undefined;
      },
      10_000,
      200,
    );
    await sweepStaleRuns(stack.db.db, stale);
    // The requeue carries a backoff; bring it due, and claim until it comes back (the sweep and this claim
    // are separate statements, and a CI machine may be slow between them).
    const reclaimed = await eventually(
      async () => {
        await stack.db.pool.query(`UPDATE runs SET run_at = now() WHERE id = $1 AND status = 'queued'`, [
          run.id,
        ]);
        const [claimed] = await claimRuns(stack.db.db, {
          workerId: 'successor',
          lanes: ['A'],
          limit: 1,
          leaseSeconds: 60,
        });
        return claimed;
      },
      10_000,
      100,
    );
    t.equal(reclaimed.id, run.id);
    const before = (await stack.client.runs.events(run.id, { limit: 5000 })).events.length;
    zombie.child.kill('SIGCONT');
    await zombie.waitForLog((l) => l.msg === 'lease lost: step stopped, nothing more written', 15_000);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await stack.client.runs.events(run.id, { limit: 5000 });
    const zombieWrites = after.events.slice(before).filter((e) => e.attempt === 1);
    t.same(zombieWrites, [], 'nothing written by the zombie after it woke');
    const { run: current } = await stack.client.runs.get(run.id);
    t.equal(current.status, 'running');
    t.equal(current.worker_id, 'successor', 'the newer attempt is untouched');
    const { existsSync } = await import('node:fs');
    t.notOk(existsSync(marker), 'the zombie step was killed before it could finish');
  },
);

t.test(
  'a claim answered while its worker was frozen is confirmed before any step runs (stale lease: never started)',
  async (t) => {
    const stack = await startStack(t, { s3: false, env: { OCR_HEARTBEAT_TIMEOUT_S: String(TIMEOUT_S) } });
    const marker = `/tmp/ocr-stale-claim-${process.pid}-${Date.now()}`;
    await stack.client.templates.create({
      name: 'marks',
      steps: [{ name: 'mark', kind: 'shell', script: `touch ${marker}; echo marked` }],
    });
    t.teardown(async () => (await import('node:fs/promises')).rm(marker, { force: true }));
    const { token } = await stack.tokenFor('worker');
    const frozen = spawnOcr(t, 'worker', {
      ...stack.env,
      ...FAST,
      OCR_TOKEN: token,
      OCR_LANES: 'A',
      PORT: '0',
      OCR_WORKER_ID: 'frozen',
      OCR_CLAIM_WAIT_MS: '30000',
    });
    await frozen.waitForLog((l) => l.msg === 'worker started', 60_000);
    // Its long-poll claim is parked in the API once the claim registered it; then freeze the process.
    await eventually(
      async () => (await stack.db.pool.query(`SELECT 1 FROM workers WHERE id = 'frozen'`)).rowCount === 1,
      30_000,
    );
    frozen.child.kill('SIGSTOP');
    const { run } = await stack.client.runs.create({ template: 'marks' });
    // The parked claim takes the run for the frozen worker; its reply waits in the socket.
    await eventually(async () => (await stack.client.runs.get(run.id)).run.worker_id === 'frozen', 30_000);
    const { findStaleRuns, sweepStaleRuns, claimRuns } = await import('@ocr/db');
    const stale = await eventually(
      async () => {
        const found = await findStaleRuns(stack.db.db, { timeoutS: TIMEOUT_S, limit: 10 });
        return found.length ? found : undefined;
      },
      30_000,
      200,
    );
    await sweepStaleRuns(stack.db.db, stale);
    const reclaimed = await eventually(
      async () => {
        await stack.db.pool.query(`UPDATE runs SET run_at = now() WHERE id = $1 AND status = 'queued'`, [
          run.id,
        ]);
        const [claimed] = await claimRuns(stack.db.db, {
          workerId: 'successor',
          lanes: ['A'],
          limit: 1,
          leaseSeconds: 60,
        });
        return claimed;
      },
      30_000,
      100,
    );
    t.equal(reclaimed.id, run.id, 'the successor holds the run');
    frozen.child.kill('SIGCONT');
    const dropped = await frozen.waitForLog(
      (l) => l.msg === 'claimed lease already lost: not started',
      30_000,
    );
    t.same(dropped.runs, [run.id]);
    const { existsSync } = await import('node:fs');
    t.notOk(existsSync(marker), 'the stale lease never ran a step');
    const { events } = await stack.client.runs.events(run.id);
    t.notOk(
      events.some((e) => e.attempt === 1 && e.type === 'step.started'),
      'nothing written under the stale lease',
    );
    const { run: current } = await stack.client.runs.get(run.id);
    t.equal(current.worker_id, 'successor');
  },
);
