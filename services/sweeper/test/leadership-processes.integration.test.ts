import t from 'tap';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { claimRuns, currentLeader, type Database } from '@ocr/db';
import { createTestDatabase, makeRuns, type TestLike } from '@ocr/testkit';
import type { Kysely } from 'kysely';
import { LEADERSHIP } from '../src/index.js';
import { ageHeartbeats, sweepEventCounts } from './helpers.js';
import { eventually, spawnSweeper, type LogLine, type SweeperProcess } from './processes.js';

const TTL_S = 1;
const INTERVAL_S = 0.2;
const TIMEOUT_S = 1;
const ENV = {
  OCR_SWEEP_INTERVAL_S: String(INTERVAL_S),
  OCR_HEARTBEAT_INTERVAL_S: '0.2',
  OCR_HEARTBEAT_TIMEOUT_S: String(TIMEOUT_S),
  OCR_LEADER_TTL_S: String(TTL_S),
};

const becameLeader = (line: LogLine) => line.msg === 'became sweeper leader';
const requeuedBy = (p: SweeperProcess) =>
  new Set(p.logs.filter((l) => l.msg === 'stale run requeued').map((l) => l.runId!));

let batches = 0;

/**
 * Claim `n` new runs for a worker that then dies: their heartbeats are a minute old. Each batch has a lane
 * of its own, so runs requeued from an earlier batch are not claimed again here.
 */
async function strandRuns(db: Kysely<Database>, pool: pg.Pool, n: number): Promise<string[]> {
  const lane = `batch-${++batches}`;
  await makeRuns(db, n, { lane, retry_policy: { initial_s: 0, factor: 1, max_s: 0 } });
  const runs = await claimRuns(db, { workerId: 'dead', lanes: [lane], limit: n, leaseSeconds: 1 });
  const ids = runs.map((r) => r.id);
  await ageHeartbeats(pool, ids, 60);
  return ids;
}

/** Resolve once every run in `ids` has a requeued event. */
async function requeued(pool: pg.Pool, ids: string[]): Promise<void> {
  await eventually(async () => {
    const counts = await sweepEventCounts(pool, 'requeued');
    return ids.every((id) => counts.has(id));
  });
}

/**
 * The replica's log lines for `ids` have been read. The requeued event commits before the replica logs
 * it, so a test that saw the event in the database must wait for the line to arrive on the pipe.
 */
async function loggedRequeues(p: SweeperProcess, ids: string[]): Promise<Set<string>> {
  await eventually(async () => ids.every((id) => requeuedBy(p).has(id)), 5_000).catch(() => undefined);
  return requeuedBy(p);
}

/** The ops port a child sweeper listens on (PORT=0), from its start line. */
async function opsPort(p: SweeperProcess): Promise<number> {
  return (await p.waitForLog((l) => l.msg === 'sweeper started')).port as number;
}

/** How many ticks a child sweeper has finished, from its /metrics. */
async function tickCount(p: SweeperProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${await opsPort(p)}/metrics`)).text();
  return Number(/^ocr_sweeper_tick_seconds_count (\d+)$/m.exec(text)?.[1] ?? NaN);
}

async function twoReplicas(t: TestLike, url: string) {
  const a = spawnSweeper(t, { ...ENV, DATABASE_URL: url, OCR_SWEEPER_ID: 'A' });
  await a.waitForLog(becameLeader);
  const b = spawnSweeper(t, { ...ENV, DATABASE_URL: url, OCR_SWEEPER_ID: 'B' });
  await b.waitForLog((l) => l.msg === 'sweeper started');
  return { a, b };
}

t.test(
  'leader SIGKILLed: the other replica takes over within TTL + interval and recovers stale runs',
  async (t) => {
    const { db, pool, url } = await createTestDatabase(t);
    const { a, b } = await twoReplicas(t, url);
    t.equal(await currentLeader(db, LEADERSHIP), 'A');
    a.child.kill('SIGKILL');
    const killedAt = performance.now();
    await b.waitForLog(becameLeader);
    const takeoverS = (performance.now() - killedAt) / 1000;
    t.ok(
      takeoverS <= TTL_S + INTERVAL_S + 1,
      `B leads ${takeoverS.toFixed(2)} s after the kill (bound ${TTL_S + INTERVAL_S + 1} s)`,
    );
    const ids = await strandRuns(db, pool, 5);
    await requeued(pool, ids);
    t.same([...(await loggedRequeues(b, ids))].sort(), [...ids].sort(), 'B requeued them');
    const counts = await sweepEventCounts(pool, 'requeued');
    t.same(
      ids.map((id) => counts.get(id)),
      Array(5).fill(1),
      'each requeued exactly once',
    );
    const again = await claimRuns(db, {
      workerId: 'alive',
      lanes: [`batch-${batches}`],
      limit: 5,
      leaseSeconds: 30,
    });
    t.same(
      again.map((r) => r.attempt),
      [2, 2, 2, 2, 2],
      'attempt +1, not +2',
    );
  },
);

t.test(
  'leader SIGSTOPped: the other takes over; woken by SIGCONT, it does not sweep; each run requeued once',
  async (t) => {
    const { db, pool, url } = await createTestDatabase(t);
    const { a, b } = await twoReplicas(t, url);
    // A is an active leader: it sweeps the first batch.
    const first = await strandRuns(db, pool, 3);
    await requeued(pool, first);
    t.same([...(await loggedRequeues(a, first))].sort(), [...first].sort(), 'A swept the first batch');

    a.child.kill('SIGSTOP');
    const stoppedAt = performance.now();
    const second = await strandRuns(db, pool, 3);
    await b.waitForLog(becameLeader);
    t.ok(
      (performance.now() - stoppedAt) / 1000 <= TTL_S + INTERVAL_S + 1,
      'B took over within TTL + interval (+1 s)',
    );
    await requeued(pool, second);
    t.same([...(await loggedRequeues(b, second))].sort(), [...second].sort(), 'B swept the second batch');

    // Stale runs are waiting at the moment A wakes: a careless A would act on its old belief.
    const third = await strandRuns(db, pool, 3);
    a.child.kill('SIGCONT');
    const steppedDown = await a.waitForLog(
      (l) =>
        l.msg === 'lost sweeper leadership' ||
        l.msg === 'sweeper leadership lapsed mid-tick: stopping before acting',
    );
    t.ok(steppedDown, `A stepped down on waking (${steppedDown.msg})`);
    await requeued(pool, third);
    // Let A run a few more ticks as a follower (counted on its /metrics), then look at what everyone did.
    const logsBefore = a.logs.length;
    const ticksBefore = await tickCount(a);
    await eventually(async () => (await tickCount(a)) >= ticksBefore + 3);
    t.equal(a.logs.slice(logsBefore).filter(becameLeader).length, 0, 'A stays a follower');
    t.match(
      await (await fetch(`http://127.0.0.1:${await opsPort(a)}/metrics`)).text(),
      /^ocr_sweeper_leader 0$/m,
      'and says so',
    );
    t.same([...requeuedBy(a)].sort(), [...first].sort(), 'A swept nothing after waking');
    const counts = await sweepEventCounts(pool, 'requeued');
    t.same(
      [...first, ...second, ...third].map((id) => counts.get(id)),
      Array(9).fill(1),
      'each stale run requeued exactly once',
    );
    t.equal(await currentLeader(db, LEADERSHIP), 'B');
  },
);

t.test('leader SIGTERMed: it resigns and exits 0; the other leads at its next tick', async (t) => {
  const { db, url } = await createTestDatabase(t);
  const slow = { OCR_LEADER_TTL_S: '30' };
  const a = spawnSweeper(t, { ...ENV, ...slow, DATABASE_URL: url, OCR_SWEEPER_ID: 'A' });
  await a.waitForLog(becameLeader);
  const b = spawnSweeper(t, { ...ENV, ...slow, DATABASE_URL: url, OCR_SWEEPER_ID: 'B' });
  await b.waitForLog((l) => l.msg === 'sweeper started');
  a.child.kill('SIGTERM');
  t.equal(await a.exited, 0, 'clean exit');
  await b.waitForLog(becameLeader, 5_000);
  t.equal(await currentLeader(db, LEADERSHIP), 'B', 'no wait for the 30 s TTL');
});
