import t from 'tap';
import { performance } from 'node:perf_hooks';
import { cancelRun, claimRuns, currentLeader, heartbeatRuns, readEvents } from '@ocr/db';
import { ConfigError } from '@ocr/runtime';
import { createTestDatabase, makeRuns } from '@ocr/testkit';
import { LEADERSHIP, loadSweeperConfig, startSweeper } from '../src/index.js';
import { FAST_ENV, ageHeartbeats, reportWhere, sweepEventCounts, testLog, testSweeper } from './helpers.js';

const noBackoff = { initial_s: 0, factor: 1, max_s: 0 };

t.test('a stale run is requeued once; the next claim bumps the attempt by one', async (t) => {
  const { db, pool } = await createTestDatabase(t);
  await makeRuns(db, 5, { retry_policy: noBackoff });
  const { sweeper, registry } = testSweeper(t, db, { id: 's' });
  sweeper.start();
  await reportWhere(sweeper, (r) => r.leader && !r.warmingUp);
  const runs = await claimRuns(db, { workerId: 'dead', lanes: ['A'], limit: 5, leaseSeconds: 1 });
  await ageHeartbeats(
    pool,
    runs.map((r) => r.id),
    60,
  );
  sweeper.wake();
  const report = await reportWhere(sweeper, (r) => r.requeued > 0);
  t.equal(report.requeued, 5, 'all five in one tick');
  await sweeper.nextTick();
  t.same(
    [...(await sweepEventCounts(pool, 'requeued')).values()],
    [1, 1, 1, 1, 1],
    'one requeued event each',
  );
  const again = await claimRuns(db, { workerId: 'alive', lanes: ['A'], limit: 5, leaseSeconds: 30 });
  t.same(
    again.map((r) => r.attempt),
    [2, 2, 2, 2, 2],
    'attempt +1, not +2',
  );
  const events = await readEvents(db, { runId: runs[0]!.id });
  t.ok(
    events.some(
      (e) =>
        e.type === 'requeued' &&
        /^requeued: heartbeat lost from worker dead after 6\d(\.\d)? s/.test(e.message),
    ),
    'the event says who and how long',
  );
  const metrics = await registry.getMetricsAsJSON();
  const value = (name: string) => metrics.find((m) => m.name === name)?.values;
  t.equal(value('ocr_sweeper_requeued_total')?.[0]?.value, 5);
  t.equal(value('ocr_sweeper_stuck_runs_total')?.[0]?.value, 5);
  t.equal(value('ocr_sweeper_leader')?.[0]?.value, 1);
  const recovery = value('ocr_sweeper_recovery_seconds') as
    { value: number; metricName?: string }[] | undefined;
  t.equal(
    recovery?.find((v) => v.metricName === 'ocr_sweeper_recovery_seconds_count')?.value,
    5,
    'five recoveries observed',
  );
});

t.test(
  'a run that keeps losing its worker fails with heartbeat_timeout after its infrastructure budget',
  async (t) => {
    const { db, pool } = await createTestDatabase(t);
    const [run] = await makeRuns(db, 1, { max_infra_losses: 2, max_attempts: 5, retry_policy: noBackoff });
    const { sweeper, registry } = testSweeper(t, db, { id: 's' });
    sweeper.start();
    await reportWhere(sweeper, (r) => r.leader && !r.warmingUp);
    for (const expected of ['requeued', 'failed'] as const) {
      const [claimed] = await claimRuns(db, { workerId: 'crashy', lanes: ['A'], limit: 1, leaseSeconds: 1 });
      t.equal(claimed?.id, run!.id);
      await ageHeartbeats(pool, [run!.id], 30);
      sweeper.wake();
      await reportWhere(sweeper, (r) => r[expected] === 1);
    }
    const final = await db.selectFrom('runs').selectAll().where('id', '=', run!.id).executeTakeFirstOrThrow();
    t.equal(final.status, 'error');
    t.match(final.error, { code: 'heartbeat_timeout', message: /no heartbeat from worker crashy/ });
    t.equal(final.infra_losses, 2);
    t.equal(final.attempt, 2, 'two attempts, both lost to infrastructure');
    t.ok(
      (await readEvents(db, { runId: run!.id })).some(
        (e) => e.type === 'failed' && /^failed: heartbeat lost from worker crashy/.test(e.message),
      ),
    );
    const failed = (await registry.getMetricsAsJSON()).find((m) => m.name === 'ocr_sweeper_failed_total');
    t.equal(failed?.values[0]?.value, 1);
  },
);

t.test('a backlog larger than the batch is paged through in one tick', async (t) => {
  const { db, pool } = await createTestDatabase(t);
  await makeRuns(db, 23, { retry_policy: noBackoff });
  const { sweeper } = testSweeper(t, db, { id: 's', env: { OCR_SWEEP_BATCH: '5' } });
  sweeper.start();
  await reportWhere(sweeper, (r) => r.leader && !r.warmingUp);
  const runs = await claimRuns(db, { workerId: 'dead', lanes: ['A'], limit: 23, leaseSeconds: 1 });
  await ageHeartbeats(
    pool,
    runs.map((r) => r.id),
    30,
  );
  sweeper.wake();
  const report = await reportWhere(sweeper, (r) => r.stale > 0);
  t.equal(report.stale, 23, 'five pages of at most five');
  t.equal(report.requeued, 23);
  t.equal((await sweepEventCounts(pool, 'requeued')).size, 23);
});

t.test('a cancel no worker acknowledges is finished after the grace', async (t) => {
  const { db, pool } = await createTestDatabase(t);
  await makeRuns(db, 2);
  const [acked, ignored] = await claimRuns(db, {
    workerId: 'deaf',
    lanes: ['A'],
    limit: 2,
    leaseSeconds: 30,
  });
  await cancelRun(db, ignored!.id, 'op');
  await cancelRun(db, acked!.id, 'op');
  await pool.query(`UPDATE runs SET cancel_requested_at = now() - interval '10 s' WHERE id = $1`, [
    ignored!.id,
  ]);
  // The worker is alive (it heartbeats) but deaf to the cancel: only the grace may end the run.
  const leases = [acked!, ignored!].map((r) => ({ runId: r.id, leaseToken: r.lease_token! }));
  const beating = setInterval(() => void heartbeatRuns(db, leases, 30).catch(() => undefined), 100);
  t.teardown(() => clearInterval(beating));
  const { sweeper } = testSweeper(t, db, { id: 's', env: { OCR_CANCEL_GRACE_S: '5' } });
  sweeper.start();
  const report = await reportWhere(sweeper, (r) => r.cancelsFinished > 0);
  t.equal(report.cancelsFinished, 1, 'only the one past its grace');
  const status = async (id: string) =>
    (await db.selectFrom('runs').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
  t.equal(await status(ignored!.id), 'cancelled');
  t.equal(await status(acked!.id), 'running', 'within the grace the worker still has its chance');
  t.ok((await readEvents(db, { runId: ignored!.id })).some((e) => e.type === 'cancel.confirmed'));
});

t.test('a new leader judges no one before a full heartbeat timeout has passed', async (t) => {
  const { db, pool } = await createTestDatabase(t);
  await makeRuns(db, 3, { retry_policy: noBackoff });
  const runs = await claimRuns(db, { workerId: 'dead', lanes: ['A'], limit: 3, leaseSeconds: 1 });
  await ageHeartbeats(
    pool,
    runs.map((r) => r.id),
    60,
  ); // stale before the sweeper even starts
  const { sweeper } = testSweeper(t, db, { id: 's', env: { OCR_HEARTBEAT_TIMEOUT_S: '1.5' } });
  const started = performance.now();
  sweeper.start();
  const first = await reportWhere(sweeper, (r) => r.leader);
  t.ok(first.warmingUp, 'the first leading tick only warms up');
  t.equal(first.requeued, 0);
  await reportWhere(sweeper, (r) => r.requeued > 0);
  const waitedMs = performance.now() - started;
  t.ok(waitedMs >= 1500, `swept only after the warm-up (${waitedMs.toFixed(0)} ms)`);
});

t.test('startSweeper serves /healthz, /readyz, /metrics and resigns leadership on close', async (t) => {
  const tdb = await createTestDatabase(t);
  const config = loadSweeperConfig({
    ...FAST_ENV,
    DATABASE_URL: tdb.url,
    PORT: '0',
    OCR_SWEEPER_ID: 'served',
    // A warm-up long enough to be seen from outside.
    OCR_HEARTBEAT_TIMEOUT_S: '3',
  });
  const started = await startSweeper(config, testLog);
  let closed = false;
  t.teardown(() => (closed ? undefined : started.close()));
  await reportWhere(started.sweeper, (r) => r.leader);
  const base = `http://127.0.0.1:${started.port}`;
  const health = await fetch(`${base}/healthz`);
  t.equal(health.status, 200);
  t.match(
    await health.json(),
    { status: 'ok', sweeper_id: 'served', leader: true, sweeping: false },
    'leader, still warming up',
  );
  await reportWhere(started.sweeper, (r) => r.leader && !r.warmingUp);
  t.match(
    await (await fetch(`${base}/healthz`)).json(),
    { leader: true, sweeping: true },
    'warm-up over: judging heartbeats',
  );
  t.equal((await fetch(`${base}/readyz`)).status, 200);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  for (const name of [
    'ocr_sweeper_leader 1',
    'ocr_sweeper_requeued_total',
    'ocr_sweeper_stuck_runs_total',
    'ocr_sweeper_failed_total',
    'ocr_sweeper_cancels_finished_total',
    'ocr_sweeper_recovery_seconds_bucket',
    'ocr_sweeper_tick_seconds_bucket',
  ]) {
    t.ok(metrics.includes(name), name);
  }
  t.equal(await currentLeader(tdb.db, LEADERSHIP), 'served');
  await started.close();
  closed = true;
  t.equal(
    await currentLeader(tdb.db, LEADERSHIP),
    undefined,
    'resigned: another replica need not wait for the TTL',
  );
});

t.test('configuration: defaults, and every bad variable named', async (t) => {
  const config = loadSweeperConfig({ DATABASE_URL: 'postgres://x/y' });
  t.match(config, {
    PORT: 9102,
    OCR_SWEEP_INTERVAL_S: 5,
    OCR_HEARTBEAT_TIMEOUT_S: 15,
    OCR_HEARTBEAT_INTERVAL_S: 3,
    OCR_CANCEL_GRACE_S: 30,
    OCR_SWEEP_BATCH: 500,
    leaderTtlS: 15,
    OCR_LOG_LEVEL: 'info',
  });
  t.match(config.OCR_SWEEPER_ID, /:\d+$/, 'host name and pid');
  const problems = (env: Record<string, string>) => {
    try {
      loadSweeperConfig(env);
      return [];
    } catch (err) {
      t.type(err, ConfigError);
      return (err as ConfigError).problems;
    }
  };
  t.match(problems({}), [/DATABASE_URL/]);
  t.match(problems({ DATABASE_URL: 'x', OCR_HEARTBEAT_TIMEOUT_S: '3', OCR_HEARTBEAT_INTERVAL_S: '3' }), [
    /^OCR_HEARTBEAT_TIMEOUT_S: must exceed OCR_HEARTBEAT_INTERVAL_S/,
  ]);
  t.match(problems({ DATABASE_URL: 'x', OCR_SWEEP_INTERVAL_S: '2', OCR_LEADER_TTL_S: '1' }), [
    /^OCR_LEADER_TTL_S: must exceed OCR_SWEEP_INTERVAL_S/,
  ]);
  const many = problems({ DATABASE_URL: 'x', OCR_SWEEP_BATCH: '0', PORT: 'http', OCR_LOG_LEVEL: 'loud' });
  for (const name of ['OCR_SWEEP_BATCH', 'PORT', 'OCR_LOG_LEVEL'])
    t.ok(
      many.some((line) => line.includes(name)),
      `${name} reported`,
    );
});
