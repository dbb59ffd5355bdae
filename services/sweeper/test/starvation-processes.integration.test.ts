import t from 'tap';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { Kysely } from 'kysely';
import { claimRuns, currentLeader, heartbeatRuns, type Database, type Lease } from '@ocr/db';
import { createTestDatabase, makeRuns, type TestLike } from '@ocr/testkit';
import { LEADERSHIP } from '../src/index.js';
import { ageHeartbeats, sweepEventCounts } from './helpers.js';
import { eventually, spawnSweeper, type LogLine, type SweeperProcess } from './processes.js';

/**
 * A replica starved of CPU: its lease lapses on its own clock between two ticks, tick after tick, while the
 * database answers all along. The fault suite saw this (docs/reliability.md): a leader that re-acquired its
 * lease after each lapse began a warm-up each time and went 30 s without sweeping. Starvation is modelled
 * with SIGSTOP / SIGCONT: stopped for longer than the lease TTL and than the heartbeat timeout minus the
 * heartbeat interval (the old blind-spot limit), then running for less than a heartbeat timeout (so a
 * warm-up begun on waking could never finish before the next stop).
 */
const TTL_S = 1;
const INTERVAL_S = 0.2;
const HEARTBEAT_S = 0.2;
const TIMEOUT_S = 2;
const STOPPED_MS = 2_500;
const RUNNING_MS = 1_500;
const ENV = {
  OCR_SWEEP_INTERVAL_S: String(INTERVAL_S),
  OCR_HEARTBEAT_INTERVAL_S: String(HEARTBEAT_S),
  OCR_HEARTBEAT_TIMEOUT_S: String(TIMEOUT_S),
  OCR_LEADER_TTL_S: String(TTL_S),
};
/**
 * A starved leader sweeps in the first tick it completes while running after the runs went stale: one
 * stop and one running window. A tick a stop cuts in two (past the lease TTL) stops before acting and the
 * next window does it, so the bound allows two cycles, + a sweep interval + 1 s. The old rule never swept.
 */
const STARVED_BOUND_S = (2 * (STOPPED_MS + RUNNING_MS)) / 1000 + INTERVAL_S + 1;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const warmedUp = (line: LogLine) => line.msg === 'warm-up over: judging heartbeats';
const requeuedBy = (p: SweeperProcess) =>
  new Set(p.logs.filter((l) => l.msg === 'stale run requeued').map((l) => l.runId!));

/** Stop and continue `p` in a loop until the returned function is called (which leaves it running). */
function starve(t: TestLike, p: SweeperProcess): { stopped: () => Promise<void>; end: () => Promise<void> } {
  let running = true;
  let onStop: (() => void) | undefined;
  const loop = (async () => {
    while (running && p.child.exitCode === null) {
      p.child.kill('SIGSTOP');
      onStop?.();
      await sleep(STOPPED_MS);
      p.child.kill('SIGCONT');
      if (!running) break;
      await sleep(RUNNING_MS);
    }
  })();
  const end = async () => {
    running = false;
    await loop;
    p.child.kill('SIGCONT');
  };
  t.teardown(end);
  return { stopped: () => new Promise<void>((resolve) => (onStop = resolve)), end };
}

let lanes = 0;

/** Runs claimed by a worker that keeps heartbeating them (every HEARTBEAT_S) until the test ends. */
async function liveRuns(t: TestLike, db: Kysely<Database>, n: number): Promise<string[]> {
  const lane = `live-${++lanes}`;
  await makeRuns(db, n, { lane });
  const runs = await claimRuns(db, { workerId: 'alive', lanes: [lane], limit: n, leaseSeconds: 30 });
  const leases: Lease[] = runs.map((r) => ({ runId: r.id, leaseToken: r.lease_token! }));
  const beating = setInterval(() => {
    void heartbeatRuns(db, leases, 30).catch(() => undefined);
  }, HEARTBEAT_S * 1000);
  t.teardown(() => clearInterval(beating));
  return leases.map((l) => l.runId);
}

/** Runs claimed by a worker that died a minute ago: stale at once. */
async function strandRuns(db: Kysely<Database>, pool: pg.Pool, n: number): Promise<string[]> {
  const lane = `dead-${++lanes}`;
  await makeRuns(db, n, { lane, retry_policy: { initial_s: 0, factor: 1, max_s: 0 } });
  const runs = await claimRuns(db, { workerId: 'dead', lanes: [lane], limit: n, leaseSeconds: 1 });
  const ids = runs.map((r) => r.id);
  await ageHeartbeats(pool, ids, 60);
  return ids;
}

/** Seconds until every run in `ids` has a requeued event. */
async function requeuedWithin(pool: pg.Pool, ids: string[], since: number): Promise<number> {
  await eventually(async () => {
    const counts = await sweepEventCounts(pool, 'requeued');
    return ids.every((id) => counts.has(id));
  }, 60_000);
  return (performance.now() - since) / 1000;
}

/** How many of the live runs were requeued, and how many are still running under their worker. */
async function liveRunsState(pool: pg.Pool, live: string[]): Promise<{ requeued: number; running: number }> {
  const counts = await sweepEventCounts(pool, 'requeued');
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM runs WHERE status = 'running' AND worker_id = 'alive' AND id = ANY($1::uuid[])`,
    [live],
  );
  return { requeued: live.filter((id) => counts.has(id)).length, running: rows[0]!.n };
}

t.test(
  'a starved sole leader (stopped past its TTL, again and again) sweeps a dead worker’s runs, never a live one',
  async (t) => {
    const { db, pool, url } = await createTestDatabase(t);
    const live = await liveRuns(t, db, 4);
    const a = spawnSweeper(t, { ...ENV, DATABASE_URL: url, OCR_SWEEPER_ID: 'A' });
    await a.waitForLog(warmedUp);

    const starved = starve(t, a);
    await starved.stopped();
    const stranded = await strandRuns(db, pool, 5);
    const since = performance.now();
    const tookS = await requeuedWithin(pool, stranded, since);
    t.ok(
      tookS <= STARVED_BOUND_S,
      `requeued ${tookS.toFixed(2)} s after they went stale, while starved (bound ${STARVED_BOUND_S} s)`,
    );
    // A few more stop/continue cycles with live runs only: still nothing live is touched.
    await starved.stopped();
    await starved.stopped();
    await starved.end();
    await eventually(async () => stranded.every((id) => requeuedBy(a).has(id)), 10_000);
    t.same([...requeuedBy(a)].sort(), [...stranded].sort(), 'A requeued them, and only them');
    const late = a.logs.filter((l) => l.msg === 'sweeper lease renewed late: it had lapsed on our own clock');
    t.ok(late.length > 0, `its lapses are in its log (${late.length} late renewals)`);
    t.equal(a.logs.filter(warmedUp).length, 1, 'one warm-up, at start: a lapse is not an outage');
    t.same(
      await liveRunsState(pool, live),
      { requeued: 0, running: live.length },
      'no live run requeued: each still running under its worker',
    );
    const counts = await sweepEventCounts(pool, 'requeued');
    t.same(
      stranded.map((id) => counts.get(id)),
      Array(stranded.length).fill(1),
      'each requeued exactly once',
    );
  },
);

t.test(
  'leader SIGKILLed right after the other replica restarted: the new one, starved, takes over and sweeps',
  async (t) => {
    const { db, pool, url } = await createTestDatabase(t);
    const live = await liveRuns(t, db, 4);
    const a = spawnSweeper(t, { ...ENV, DATABASE_URL: url, OCR_SWEEPER_ID: 'A' });
    await a.waitForLog((l) => l.msg === 'became sweeper leader');
    const b1 = spawnSweeper(t, { ...ENV, DATABASE_URL: url, OCR_SWEEPER_ID: 'B' });
    await b1.waitForLog((l) => l.msg === 'sweeper started');
    b1.child.kill('SIGKILL');
    await b1.exited;
    // B comes back (same identity); the moment it has heard the database, the leader dies.
    const b = spawnSweeper(t, { ...ENV, DATABASE_URL: url, OCR_SWEEPER_ID: 'B' });
    const firstAnswer = await b.waitForLog((l) => l.msg?.startsWith('warm-up started') === true);
    t.equal(firstAnswer.reason, 'started', 'a fresh replica warms up once, from its first answer');
    const stranded = await strandRuns(db, pool, 5);
    a.child.kill('SIGKILL');
    const killedAt = performance.now();
    starve(t, b);

    const tookS = await requeuedWithin(pool, stranded, killedAt);
    // Lease TTL for A's lease to lapse, B's own warm-up (a heartbeat timeout from its first answer, which
    // overlaps the TTL), then the first tick B completes: as above.
    const bound = TTL_S + TIMEOUT_S + STARVED_BOUND_S;
    t.ok(tookS <= bound, `requeued ${tookS.toFixed(2)} s after the leader's kill (bound ${bound} s)`);
    await eventually(async () => stranded.every((id) => requeuedBy(b).has(id)), 10_000);
    t.same([...requeuedBy(b)].sort(), [...stranded].sort(), 'B requeued them');
    t.equal(await currentLeader(db, LEADERSHIP), 'B');
    t.equal(b.logs.filter(warmedUp).length, 1, 'B warmed up once (its start), not at each re-acquisition');
    t.same(
      await liveRunsState(pool, live),
      { requeued: 0, running: live.length },
      'no live run requeued: each still running under its worker',
    );
    const counts = await sweepEventCounts(pool, 'requeued');
    t.same(
      stranded.map((id) => counts.get(id)),
      Array(stranded.length).fill(1),
      'each requeued exactly once',
    );
  },
);
