import t from 'tap';
import { performance } from 'node:perf_hooks';
import type { KyselyPlugin, PluginTransformResultArgs, QueryResult, UnknownRow } from 'kysely';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  claimRuns,
  connect,
  currentLeader,
  heartbeatRuns,
  migrateToLatest,
  resignLeadership,
  tryAcquireOrRenewLeadership,
} from '@ocr/db';
import { freePort, startEmbeddedPostgres } from '@ocr/embedded';
import { createTestDatabase, eventually, makeRuns } from '@ocr/testkit';
import { LEADERSHIP, LeaderLease } from '../src/index.js';
import { ageHeartbeats, reportWhere, sweepEventCounts, testSweeper } from './helpers.js';

const lease = (holder: string, ttlS = 30) => ({ name: LEADERSHIP, holder, ttlS });

t.test('the lease row: one holder at a time, renewals keep it, expiry or resignation frees it', async (t) => {
  const { db, pool } = await createTestDatabase(t);
  const first = await tryAcquireOrRenewLeadership(db, lease('a'));
  t.match(first, { holder: 'a', renewed: false });
  t.equal(await tryAcquireOrRenewLeadership(db, lease('b')), undefined, 'b cannot take an unexpired lease');
  const again = await tryAcquireOrRenewLeadership(db, lease('a'));
  t.match(again, { holder: 'a', renewed: true });
  t.ok(again!.expires_at >= first!.expires_at, 'renewal extends');
  t.same(again!.acquired_at, first!.acquired_at, 'renewal keeps the acquisition time');
  await pool.query(`UPDATE leader_leases SET expires_at = now() - interval '1 ms'`);
  t.match(
    await tryAcquireOrRenewLeadership(db, lease('b')),
    { holder: 'b', renewed: false },
    'an expired lease goes to whoever asks',
  );
  t.equal(
    await tryAcquireOrRenewLeadership(db, lease('a')),
    undefined,
    'and the old holder cannot have it back',
  );
  t.equal(await resignLeadership(db, { name: LEADERSHIP, holder: 'a' }), false, 'only the holder can resign');
  t.equal(await resignLeadership(db, { name: LEADERSHIP, holder: 'b' }), true);
  t.equal(await currentLeader(db, LEADERSHIP), undefined);
  const contenders = await Promise.all(
    ['x', 'y', 'z', 'w'].map((holder) => tryAcquireOrRenewLeadership(db, lease(holder))),
  );
  t.equal(contenders.filter(Boolean).length, 1, 'concurrent contenders: exactly one wins');
});

t.test('LeaderLease counts the TTL on our own clock from before the request', async (t) => {
  const { db } = await createTestDatabase(t);
  let now = 1_000;
  const mine = new LeaderLease(db, { ...lease('a', 2), clock: () => now });
  t.equal(mine.held, false);
  t.match(await mine.renew(), { held: true, renewed: false });
  now += 1_999;
  t.equal(mine.held, true);
  t.equal(mine.dueForRenewal, true, 'past half the TTL: renew between pages');
  now += 1;
  t.equal(mine.held, false, 'deadline passed on our clock: not ours to act on, whatever the database says');
  t.equal(await currentLeader(db, LEADERSHIP), 'a');
});

/** Advance a fake clock whenever the stale-run scan returns: the process "freezes" between seeing and acting. */
function freezeAfterStaleScan(onScan: () => void): KyselyPlugin {
  return {
    transformQuery: (args) => args.node,
    transformResult: async (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => {
      if (
        args.result.rows.length > 0 &&
        'silent_s' in args.result.rows[0]! &&
        !('action' in args.result.rows[0]!)
      )
        onScan();
      return args.result;
    },
  };
}

t.test(
  'a leader frozen past its deadline between seeing stale runs and sweeping them does not act',
  async (t) => {
    const { db, pool } = await createTestDatabase(t);
    await makeRuns(db, 3);
    let now = 0;
    let freeze = false;
    const frozen = db.withPlugin(freezeAfterStaleScan(() => (now += freeze ? 60_000 : 0)));
    const { sweeper } = testSweeper(t, frozen, {
      id: 'a',
      clock: () => now,
      env: { OCR_LEADER_TTL_S: '30' },
    });
    t.match(await sweeper.tick(), { leader: true, warmingUp: true });
    now += 1_000;
    t.match(await sweeper.tick(), { leader: true, warmingUp: false }, 'warm-up over on our clock');
    const runs = await claimRuns(db, { workerId: 'dead', lanes: ['A'], limit: 3, leaseSeconds: 1 });
    await ageHeartbeats(
      pool,
      runs.map((r) => r.id),
      60,
    );
    freeze = true;
    const report = await sweeper.tick();
    t.match(
      report,
      { stale: 3, requeued: 0, lapsed: true, leader: false },
      'saw them, then stopped before acting',
    );
    t.equal(sweeper.isLeader, false);
    const { rows } = await pool.query(`SELECT status FROM runs`);
    t.same(
      rows.map((r) => r.status),
      ['running', 'running', 'running'],
      'nothing swept',
    );
    freeze = false;
    // Its lease lapsed on its own clock only: the database answered throughout and the heartbeats in it
    // are current, so there is nothing to warm up for (it would loop forever on a starved machine).
    t.match(
      await sweeper.tick(),
      { leader: true, warmingUp: false, requeued: 3 },
      'having lapsed, it leads anew and sweeps in the same tick',
    );
  },
);

t.test(
  'two replicas: one leads; a leader that dies is replaced within TTL + interval; runs swept once',
  async (t) => {
    const { db, pool } = await createTestDatabase(t);
    await makeRuns(db, 4, { retry_policy: { initial_s: 0, factor: 1, max_s: 0 } });
    const a = testSweeper(t, db, { id: 'a' }).sweeper;
    const b = testSweeper(t, db, { id: 'b' }).sweeper;
    // a is driven by hand so that "dying" is simply: no more ticks, no resignation.
    const lastRenewal = performance.now();
    t.match(await a.tick(), { leader: true });
    b.start();
    t.match(await b.nextTick(), { reachable: true, leader: false }, 'b follows while a holds the lease');
    await reportWhere(b, (r) => r.leader);
    const takeoverMs = performance.now() - lastRenewal;
    t.ok(
      takeoverMs < 600 + 100 + 500,
      `b took over ${takeoverMs.toFixed(0)} ms after a's last renewal (TTL 600 ms + interval 100 ms)`,
    );
    t.equal(await currentLeader(db, LEADERSHIP), 'b');
    t.match(await a.tick(), { leader: false }, 'a, back from the dead, is a follower');
    const runs = await claimRuns(db, { workerId: 'dead', lanes: ['A'], limit: 4, leaseSeconds: 1 });
    await ageHeartbeats(
      pool,
      runs.map((r) => r.id),
      60,
    );
    await reportWhere(b, (r) => r.requeued > 0);
    await a.tick();
    await b.nextTick();
    t.same(
      [...(await sweepEventCounts(pool, 'requeued')).values()],
      [1, 1, 1, 1],
      'each stale run requeued exactly once',
    );
  },
);

t.test(
  'a follower that watched the database for a heartbeat timeout sweeps in the tick it takes over',
  async (t) => {
    const { db, pool } = await createTestDatabase(t);
    await makeRuns(db, 3, { retry_policy: { initial_s: 0, factor: 1, max_s: 0 } });
    let now = 0;
    const clock = () => now;
    const env = { OCR_LEADER_TTL_S: '30' };
    const a = testSweeper(t, db, { id: 'a', clock, env }).sweeper;
    const b = testSweeper(t, db, { id: 'b', clock, env }).sweeper;
    t.match(await a.tick(), { leader: true, warmingUp: true });
    t.match(await b.tick(), { reachable: true, leader: false });
    now += 500;
    await a.tick();
    await b.tick();
    now += 600;
    t.match(await a.tick(), { leader: true, warmingUp: false }, 'a leads, warmed up');
    t.match(await b.tick(), { reachable: true, leader: false }, 'b has watched for the heartbeat timeout');
    const runs = await claimRuns(db, { workerId: 'dead', lanes: ['A'], limit: 3, leaseSeconds: 1 });
    await ageHeartbeats(
      pool,
      runs.map((r) => r.id),
      60,
    );
    // a dies (no more ticks, no resignation); its lease row runs out.
    await pool.query(`UPDATE leader_leases SET expires_at = now() - interval '1 ms'`);
    now += 100;
    t.match(
      await b.tick(),
      { leader: true, warmingUp: false, requeued: 3 },
      'b takes over and sweeps at once, no second heartbeat timeout',
    );
  },
);

t.test('a follower that stopped watching (frozen) sweeps in the tick it takes over', async (t) => {
  const { db, pool } = await createTestDatabase(t);
  await makeRuns(db, 2);
  let now = 0;
  const clock = () => now;
  const env = { OCR_LEADER_TTL_S: '30' };
  const a = testSweeper(t, db, { id: 'a', clock, env }).sweeper;
  const b = testSweeper(t, db, { id: 'b', clock, env }).sweeper;
  await a.tick();
  await b.tick();
  now += 1_100;
  await a.tick();
  await b.tick();
  const runs = await claimRuns(db, { workerId: 'dead', lanes: ['A'], limit: 2, leaseSeconds: 1 });
  await ageHeartbeats(
    pool,
    runs.map((r) => r.id),
    60,
  );
  await pool.query(`UPDATE leader_leases SET expires_at = now() - interval '1 ms'`);
  // b's clock jumps: it was frozen for a minute. The database was not down (same server, no failed query),
  // so the heartbeats in it are the workers' own: a minute old is dead, whoever looks.
  now += 60_000;
  t.match(await b.tick(), { leader: true, warmingUp: false, requeued: 2 }, 'takes over and sweeps at once');
});

t.test(
  'a replica that slept through a database restart (no failed query) warms up: the start time tells',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ocr-sweeper-restart-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    let server = await startEmbeddedPostgres({ dir, port });
    t.teardown(() => server.stop());
    const sweeperDb = connect(server.url, { max: 2, applicationName: 'sweeper' });
    t.teardown(() => sweeperDb.close());
    const direct = connect(server.url, { max: 2, applicationName: 'test' });
    t.teardown(() => direct.close());
    await migrateToLatest(direct.db, server.url);
    await makeRuns(direct.db, 3, { retry_policy: { initial_s: 0, factor: 1, max_s: 0 } });
    // Up for longer than the timeout (a server that just started is itself a reason to warm up).
    const upFor = async (s: number) => {
      const { rows } = await direct.pool.query<{ up: number }>(
        `SELECT extract(epoch FROM now() - pg_postmaster_start_time())::float8 AS up`,
      );
      return rows[0]!.up > s;
    };
    await eventually(() => upFor(1.5));
    let now = 0;
    const { sweeper } = testSweeper(t, sweeperDb.db, {
      id: 'sleeper',
      clock: () => now,
      env: { OCR_LEADER_TTL_S: '30', OCR_HEARTBEAT_TIMEOUT_S: '1' },
    });
    t.match(await sweeper.tick(), { leader: true });
    now += 60_000;
    t.match(await sweeper.tick(), { leader: true, warmingUp: false }, 'warmed up, leading');
    const runs = await claimRuns(direct.db, { workerId: 'w', lanes: ['A'], limit: 3, leaseSeconds: 1 });

    // The replica does not tick (frozen) while Postgres restarts and stays up longer than the timeout.
    await server.stop();
    server = await startEmbeddedPostgres({ dir, port });
    await eventually(() => upFor(1.5));
    // Every heartbeat is older than the timeout; two workers beat again, one died in the outage.
    await ageHeartbeats(
      direct.pool,
      runs.map((r) => r.id),
      30,
    );
    const alive = runs.slice(0, 2).map((r) => ({ runId: r.id, leaseToken: r.lease_token! }));
    // The pool drops the connections the restart killed; the sweeper's next query opens a fresh one and
    // succeeds, so no failed query tells it anything. Only the database's start time can.
    const woke = await sweeper.tick();
    t.match(woke, { reachable: true, leader: true, warmingUp: true, requeued: 0 }, 'it warms up first');
    await heartbeatRuns(direct.db, alive, 1);
    now += 1_000;
    const swept = await sweeper.tick();
    t.match(
      swept,
      { warmingUp: false, requeued: 1 },
      'after a heartbeat timeout: only the dead worker’s run',
    );
    const { rows } = await direct.pool.query<{ id: string; status: string }>(`SELECT id, status FROM runs`);
    t.same(
      Object.fromEntries(rows.map((r) => [r.id, r.status])),
      { [runs[0]!.id]: 'running', [runs[1]!.id]: 'running', [runs[2]!.id]: 'queued' },
      'the live runs are untouched',
    );
  },
);

t.test('graceful stop resigns: the follower takes over at its next tick', async (t) => {
  const { db } = await createTestDatabase(t);
  const a = testSweeper(t, db, { id: 'a', env: { OCR_LEADER_TTL_S: '30' } }).sweeper;
  const b = testSweeper(t, db, { id: 'b', env: { OCR_LEADER_TTL_S: '30' } }).sweeper;
  a.start();
  await reportWhere(a, (r) => r.leader);
  b.start();
  await reportWhere(b, (r) => r.reachable && !r.leader);
  await a.stop();
  const took = await reportWhere(b, (r) => r.leader, 2_000);
  t.ok(took.leader, 'no 30 s wait for the TTL');
  t.equal(a.isLeader, false);
});
