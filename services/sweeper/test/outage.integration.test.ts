import t from 'tap';
import { performance } from 'node:perf_hooks';
import { claimRuns, connect, heartbeatRuns, type Lease } from '@ocr/db';
import { createTestDatabase, makeRuns } from '@ocr/testkit';
import { reportWhere, startTcpProxy, sweepEventCounts, testSweeper, viaPort } from './helpers.js';
import { eventually } from './processes.js';

const TIMEOUT_S = 1;

/**
 * The whole fleet loses the database (here: a TCP proxy in front of it goes down, dropping every
 * connection) for longer than the heartbeat timeout. When it is back, every heartbeat is old. Live workers
 * beat again within their interval; the sweeper must give them a full timeout before judging anyone.
 */
t.test(
  'after an outage longer than the heartbeat timeout, live runs are not requeued en masse',
  async (t) => {
    const direct = await createTestDatabase(t);
    const target = new URL(direct.url);
    const proxy = await startTcpProxy(t, { host: target.hostname, port: Number(target.port) });
    const proxied = viaPort(direct.url, proxy.port);

    // Workers and sweeper both reach the database only through the proxy.
    const fleet = connect(proxied, { max: 3, applicationName: 'fleet' });
    t.teardown(() => fleet.close());
    const sweeperDb = connect(proxied, {
      max: 3,
      applicationName: 'sweeper',
      onError: (err) => sweeper.noteDatabaseTrouble(err),
    });
    t.teardown(() => sweeperDb.close());
    // A long lease TTL: the lease survives the outage, so only the outage rule can hold the sweeper back.
    const { sweeper } = testSweeper(t, sweeperDb.db, {
      id: 'survivor',
      env: {
        OCR_HEARTBEAT_TIMEOUT_S: String(TIMEOUT_S),
        OCR_HEARTBEAT_INTERVAL_S: '0.2',
        OCR_SWEEP_INTERVAL_S: '0.1',
        OCR_LEADER_TTL_S: '30',
      },
    });

    await makeRuns(direct.db, 21, { retry_policy: { initial_s: 0, factor: 1, max_s: 0 } });
    const claimed = await claimRuns(direct.db, { workerId: 'w', lanes: ['A'], limit: 21, leaseSeconds: 1 });
    const leases: Lease[] = claimed.map((r) => ({ runId: r.id, leaseToken: r.lease_token! }));
    const doomed = leases.pop()!; // its worker dies during the outage: the one run that must be recovered
    let doomedAlive = true;
    const beating = setInterval(() => {
      void heartbeatRuns(fleet.db, doomedAlive ? [...leases, doomed] : leases, 1).catch(() => undefined);
    }, 200);
    t.teardown(() => clearInterval(beating));

    sweeper.start();
    await reportWhere(sweeper, (r) => r.leader && !r.warmingUp);
    await sweeper.nextTick();
    t.equal((await sweepEventCounts(direct.pool, 'requeued')).size, 0, 'nothing stale while everyone beats');

    await proxy.down();
    doomedAlive = false;
    await reportWhere(sweeper, (r) => !r.reachable);
    t.equal(sweeper.isLeader, false, 'the sweeper stepped down when it lost the database');
    // Keep the database away until every heartbeat is older than the timeout (database clock).
    await eventually(async () => {
      const { rows } = await direct.pool.query(
        `SELECT extract(epoch FROM now() - max(heartbeat_at))::float8 AS s FROM runs WHERE status = 'running'`,
      );
      return rows[0].s > TIMEOUT_S + 0.5;
    });

    await proxy.up();
    const backAt = performance.now();
    const first = await reportWhere(sweeper, (r) => r.reachable);
    t.match(first, { leader: true, warmingUp: true, requeued: 0 }, 'back: it leads but only warms up');
    const swept = await reportWhere(sweeper, (r) => r.requeued > 0);
    const waitedS = (performance.now() - backAt) / 1000;
    t.ok(
      waitedS >= TIMEOUT_S,
      `judged only after a full heartbeat timeout of availability (${waitedS.toFixed(2)} s)`,
    );
    t.equal(swept.requeued, 1, 'exactly one run requeued');
    await sweeper.nextTick();
    const counts = await sweepEventCounts(direct.pool, 'requeued');
    t.same([...counts.keys()], [doomed.runId], 'the run whose worker died, and only it');
    const { rows } = await direct.pool.query(
      `SELECT count(*)::int AS n FROM runs WHERE status = 'running' AND id = ANY($1::uuid[])`,
      [leases.map((l) => l.runId)],
    );
    t.equal(rows[0].n, leases.length, 'every live run is still running under its worker');
  },
);
