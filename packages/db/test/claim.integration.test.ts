import t from 'tap';
import { sql } from 'kysely';
import pg from 'pg';
import {
  appendEvents,
  claimRuns,
  completeRuns,
  enqueueRuns,
  ENQUEUE_CHANNEL,
  EVENTS_CHANNEL,
  STATUS_CHANNEL,
} from '@ocr/db';
import { createTestDatabase, makeRun, makeRuns } from '@ocr/testkit';

t.test('16 concurrent claimers over 5,000 runs claim each run exactly once', async (t) => {
  const { db } = await createTestDatabase(t, { poolSize: 20 });
  await makeRuns(db, 5000, { lane: 'A' });
  const claimedBy = new Map<string, number>();
  let duplicates = 0;
  await Promise.all(
    Array.from({ length: 16 }, async (_, worker) => {
      for (;;) {
        const runs = await claimRuns(db, {
          workerId: `w${worker}`,
          lanes: ['A'],
          limit: 25,
          leaseSeconds: 30,
        });
        if (runs.length === 0) return;
        for (const run of runs) {
          if (claimedBy.has(run.id)) duplicates++;
          claimedBy.set(run.id, worker);
        }
      }
    }),
  );
  t.equal(duplicates, 0, 'no run claimed twice');
  t.equal(claimedBy.size, 5000, 'every run claimed');
  const { rows } = await sql<{
    n: number;
  }>`SELECT count(*)::int AS n FROM runs WHERE status = 'running' AND attempt = 1`.execute(db);
  t.equal(rows[0]!.n, 5000, 'all running, attempt 1');
  t.ok(new Set(claimedBy.values()).size > 1, 'work spread over several claimers');
});

t.test('a lane with max_concurrency 1 never has two running, under concurrent claimers', async (t) => {
  const { db } = await createTestDatabase(t, { poolSize: 20 });
  await makeRuns(db, 40, { lane: 'serial' });
  await db.updateTable('lanes').set({ max_concurrency: 1 }).where('name', '=', 'serial').execute();
  let maxSeen = 0;
  let finished = 0;
  await Promise.all(
    Array.from({ length: 8 }, async (_, worker) => {
      while (finished < 40) {
        const runs = await claimRuns(db, {
          workerId: `w${worker}`,
          lanes: ['serial'],
          limit: 5,
          leaseSeconds: 30,
        });
        const { rows } = await sql<{
          n: number;
        }>`SELECT count(*)::int AS n FROM runs WHERE lane = 'serial' AND status = 'running'`.execute(db);
        maxSeen = Math.max(maxSeen, rows[0]!.n);
        t.ok(runs.length <= 1, 'never more than one per claim');
        for (const run of runs) {
          await completeRuns(db, [{ runId: run.id, leaseToken: run.lease_token!, status: 'success' }]);
          finished++;
        }
        if (runs.length === 0) await new Promise((r) => setImmediate(r));
      }
    }),
  );
  t.equal(maxSeen, 1, 'at most one running at any time');
  t.equal(finished, 40);
});

t.test('max_concurrency N caps a lane and frees slots as runs finish', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRuns(db, 10, { lane: 'capped' });
  await db.updateTable('lanes').set({ max_concurrency: 3 }).where('name', '=', 'capped').execute();
  const first = await claimRuns(db, { workerId: 'w', lanes: ['capped'], limit: 10, leaseSeconds: 30 });
  t.equal(first.length, 3);
  t.same(await claimRuns(db, { workerId: 'w', lanes: ['capped'], limit: 10, leaseSeconds: 30 }), []);
  await completeRuns(db, [{ runId: first[0]!.id, leaseToken: first[0]!.lease_token!, status: 'success' }]);
  t.equal((await claimRuns(db, { workerId: 'w', lanes: ['capped'], limit: 10, leaseSeconds: 30 })).length, 1);
});

t.test('paused lanes are skipped; other lanes still served', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRun(db, { lane: 'A' });
  const b = await makeRun(db, { lane: 'B' });
  await db.updateTable('lanes').set({ paused: true }).where('name', '=', 'A').execute();
  const claimed = await claimRuns(db, { workerId: 'w', lanes: ['A', 'B'], limit: 10, leaseSeconds: 30 });
  t.same(
    claimed.map((r) => r.id),
    [b.id],
  );
  await db.updateTable('lanes').set({ paused: false }).where('name', '=', 'A').execute();
  t.equal((await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 10, leaseSeconds: 30 })).length, 1);
});

t.test('priority first, then age; future run_at waits (injected clock, no sleep)', async (t) => {
  const { db } = await createTestDatabase(t);
  const base = Date.now();
  const at = (s: number) => new Date(base + s * 1000);
  const old = await makeRun(db, { run_at: at(-30) });
  const newer = await makeRun(db, { run_at: at(-10) });
  const urgent = await makeRun(db, { run_at: at(-5), priority: 10 });
  const later = await makeRun(db, { run_at: at(60), priority: 100 });
  const now = at(0);
  const order: string[] = [];
  for (;;) {
    const [run] = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 1, leaseSeconds: 30, now });
    if (!run) break;
    order.push(run.id);
  }
  t.same(
    order,
    [urgent.id, old.id, newer.id],
    'priority desc, then oldest run_at; the scheduled run is not due',
  );
  const [due] = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 1, leaseSeconds: 30, now: at(61) });
  t.equal(due?.id, later.id, 'due once the clock passes run_at');
});

t.test('session filter and limit', async (t) => {
  const { db } = await createTestDatabase(t);
  const { rows } = await sql<{ id: string }>`INSERT INTO sessions (name) VALUES ('s') RETURNING id`.execute(
    db,
  );
  const session = rows[0]!.id;
  await makeRuns(db, 3, { session_id: session });
  await makeRuns(db, 3);
  const claimed = await claimRuns(db, {
    workerId: 'w',
    lanes: ['A'],
    limit: 2,
    leaseSeconds: 30,
    sessionId: session,
  });
  t.equal(claimed.length, 2);
  t.ok(claimed.every((r) => r.session_id === session));
});

t.test('each claim mints a fresh lease token and records a claimed event', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRuns(db, 3);
  const claimed = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 3, leaseSeconds: 30 });
  t.equal(new Set(claimed.map((r) => r.lease_token)).size, 3);
  const events = await db.selectFrom('run_timeline').selectAll().where('type', '=', 'claimed').execute();
  t.equal(events.length, 3);
});

t.test(
  'bulk enqueue of 1,000 in one statement keeps input order; idempotency key returns the original',
  async (t) => {
    const { db } = await createTestDatabase(t);
    const inputs = Array.from({ length: 1000 }, (_, i) => ({
      template: 'x',
      template_version: 1,
      lane: 'A',
      params: { i },
    }));
    const results = await enqueueRuns(db, inputs);
    t.same(
      results.map((r) => (r.run.params as { i: number }).i),
      inputs.map((_, i) => i),
    );
    const [first] = await enqueueRuns(db, [
      { template: 'x', template_version: 1, lane: 'A', params: { a: 1 }, idempotency_key: 'k1' },
    ]);
    const [again, twin] = await enqueueRuns(db, [
      { template: 'x', template_version: 1, lane: 'A', params: { a: 2 }, idempotency_key: 'k1' },
      { template: 'x', template_version: 1, lane: 'A', params: { a: 3 }, idempotency_key: 'k2' },
    ]);
    t.equal(first!.created, true);
    t.equal(again!.created, false);
    t.equal(again!.run.id, first!.run.id, 'same run for a repeated key');
    t.same(again!.run.params, { a: 1 }, 'original params kept');
    t.equal(twin!.created, true);
    const concurrent = await Promise.all(
      Array.from({ length: 10 }, () =>
        enqueueRuns(db, [
          { template: 'x', template_version: 1, lane: 'A', params: {}, idempotency_key: 'race' },
        ]),
      ),
    );
    t.equal(
      new Set(concurrent.map((r) => r[0]!.run.id)).size,
      1,
      'concurrent duplicates collapse to one run',
    );
  },
);

t.test(
  'a claim over capped and uncapped lanes keeps priority order across them and honours the cap',
  async (t) => {
    const { db } = await createTestDatabase(t);
    await makeRuns(db, 3, { lane: 'free', priority: 0 });
    await makeRuns(db, 3, { lane: 'capped', priority: 5 });
    await db.updateTable('lanes').set({ max_concurrency: 2 }).where('name', '=', 'capped').execute();
    const runs = await claimRuns(db, {
      workerId: 'w',
      lanes: ['free', 'capped'],
      limit: 4,
      leaseSeconds: 30,
    });
    t.same(
      runs.map((r) => r.lane),
      ['capped', 'capped', 'free', 'free'],
      'higher priority first; the cap leaves 2 of capped',
    );
    const none = await claimRuns(db, { workerId: 'w', lanes: ['capped'], limit: 4, leaseSeconds: 30 });
    t.equal(none.length, 0, 'capped lane full');
    const rest = await claimRuns(db, { workerId: 'w', lanes: ['free'], limit: 4, leaseSeconds: 30 });
    t.equal(rest.length, 1, 'the uncapped lane goes through the one-statement path');
  },
);

t.test(
  'notify: false leaves the NOTIFY out of enqueue, claim, append and complete; the default sends it',
  async (t) => {
    const { db, url } = await createTestDatabase(t);
    const listener = new pg.Client({ connectionString: url });
    await listener.connect();
    t.teardown(() => listener.end());
    await listener.query(
      `LISTEN ${ENQUEUE_CHANNEL}; LISTEN ${EVENTS_CHANNEL}; LISTEN ${STATUS_CHANNEL}; LISTEN sentinel`,
    );
    const heard: string[] = [];
    listener.on('notification', (msg) => heard.push(msg.channel));
    // Notifications arrive in commit order: once the sentinel sent last is heard, anything earlier was too.
    const settle = async () => {
      await db.executeQuery(sql`SELECT pg_notify('sentinel', '')`.compile(db));
      while (!heard.includes('sentinel')) await new Promise((r) => setTimeout(r, 5));
      return heard.splice(0).filter((c) => c !== 'sentinel');
    };
    const input = { template: 't', template_version: 1, lane: 'quiet', params: {} };
    await enqueueRuns(db, [input], { notify: false });
    const [run] = await claimRuns(db, {
      workerId: 'w',
      lanes: ['quiet'],
      limit: 1,
      leaseSeconds: 30,
      notify: false,
    });
    const lease = { runId: run!.id, leaseToken: run!.lease_token! };
    await appendEvents(db, lease, [{ seq: 1, level: 'info', type: 'log', message: 'x' }], { notify: false });
    await completeRuns(db, [{ ...lease, status: 'success' }], { notify: false });
    t.same(await settle(), [], 'nothing sent with notify: false');
    await enqueueRuns(db, [input]);
    const [loud] = await claimRuns(db, { workerId: 'w', lanes: ['quiet'], limit: 1, leaseSeconds: 30 });
    const loudLease = { runId: loud!.id, leaseToken: loud!.lease_token! };
    await appendEvents(db, loudLease, [{ seq: 1, level: 'info', type: 'log', message: 'x' }]);
    await completeRuns(db, [{ ...loudLease, status: 'success' }]);
    t.same(
      await settle(),
      [ENQUEUE_CHANNEL, EVENTS_CHANNEL, STATUS_CHANNEL, EVENTS_CHANNEL, EVENTS_CHANNEL, STATUS_CHANNEL],
      'each write notifies in its commit by default',
    );
  },
);
