import t from 'tap';
import { claimRuns, readEvents, type EventInput, type Lease } from '@ocr/db';
import { createTestDatabase, makeRuns } from '@ocr/testkit';
import { seededRandom } from '@ocr/testkit/random';
import { AppendCoalescer, COALESCE_MAX_EVENTS } from '../src/append-coalescer.js';

const lines = (from: number, n: number): EventInput[] =>
  Array.from({ length: n }, (_, i) => ({
    seq: from + i,
    level: 'info',
    type: 'log',
    message: `line ${from + i}`,
  }));

/** The run's worker lines as stored (the claim's own event left out). */
const logs = async (db: Awaited<ReturnType<typeof createTestDatabase>>, runId: string) =>
  (await readEvents(db.db, { runId, limit: 10_000 })).filter((e) => e.type === 'log');

async function leases(db: Awaited<ReturnType<typeof createTestDatabase>>, n: number): Promise<Lease[]> {
  await makeRuns(db.db, n);
  const claimed = await claimRuns(db.db, { workerId: 'w', lanes: ['A'], limit: n, leaseSeconds: 60 });
  return claimed.map((r) => ({ runId: r.id, leaseToken: r.lease_token! }));
}

t.test(
  'appends handed over in one turn share one statement; each gets its own answer and rows',
  async (t) => {
    const db = await createTestDatabase(t);
    const runs = await leases(db, 30);
    const appends = new AppendCoalescer(db.db);
    const results = await Promise.all(
      runs.map((lease, i) => appends.append(lease, lines(1, 1 + (i % 3)), i % 2 === 0)),
    );
    t.equal(appends.statements, 1, 'one statement for 30 small appends');
    for (const [i, result] of results.entries()) {
      if (!result.ok) throw new Error(`append ${i} missed`);
      t.equal(result.value.accepted, 1 + (i % 3));
      t.equal(result.value.last_seq, 1 + (i % 3));
      const stored = await logs(db, runs[i]!.runId);
      t.equal(stored.length, 1 + (i % 3));
      if (i % 2 === 0) t.same(result.value.events, stored, 'the stored rows, exactly as read back');
      else t.equal(result.value.events, undefined, 'no rows where none were asked for');
    }
    // A replay in a shared statement stores nothing and answers as a replay alone does.
    const replays = await Promise.all(
      runs.map((lease, i) => appends.append(lease, lines(1, 1 + (i % 3)), false)),
    );
    t.ok(replays.every((r) => r.ok && r.value.accepted === 0 && r.value.last_seq >= 1));
  },
);

t.test(
  'a lost lease, a run twice, a large append and a failing append keep their own outcomes',
  async (t) => {
    const db = await createTestDatabase(t);
    const runs = await leases(db, 6);
    const appends = new AppendCoalescer(db.db);
    const lost = { runId: runs[0]!.runId, leaseToken: '00000000-0000-4000-8000-000000000000' };
    const bad: EventInput = { seq: 1, level: 'info', type: 'log', message: 'x', ts: 'not a timestamp' };
    const [miss, first, second, large, failing, fine] = await Promise.all([
      appends.append(lost, lines(1, 1), false),
      appends.append(runs[1]!, lines(1, 2), true),
      appends.append(runs[1]!, lines(3, 2), true),
      appends.append(runs[2]!, lines(1, COALESCE_MAX_EVENTS + 1), false),
      appends.append(runs[3]!, [bad], false).catch((error: unknown) => error),
      appends.append(runs[4]!, lines(1, 1), false),
    ]);
    t.match(miss, { ok: false, reason: 'lease_lost' }, 'the wrong token is refused, alone');
    t.match(first, { ok: true, value: { accepted: 2 } });
    t.match(second, { ok: true, value: { accepted: 2, last_seq: 4 } });
    const stored = await logs(db, runs[1]!.runId);
    t.same(
      stored.map((e) => e.message).sort(),
      ['line 1', 'line 2', 'line 3', 'line 4'],
      'two appends of one run in one turn: both stored, each once (two statements, never one)',
    );
    t.match(large, { ok: true, value: { accepted: COALESCE_MAX_EVENTS + 1 } });
    t.ok(failing instanceof Error, 'the append Postgres refuses fails by itself');
    t.match(fine, { ok: true, value: { accepted: 1 } }, 'its batch-mates are stored');
    t.equal((await logs(db, runs[3]!.runId)).length, 0, 'nothing of it stored');
    t.equal((await logs(db, runs[4]!.runId)).length, 1);
  },
);

t.test('generated rounds of concurrent appends store exactly what appending one by one stores', async (t) => {
  const db = await createTestDatabase(t);
  const runs = await leases(db, 40);
  const appends = new AppendCoalescer(db.db);
  const rand = seededRandom(1905);
  const next = runs.map(() => 1);
  const sent = runs.map((): string[] => []);
  for (let round = 0; round < 15; round++) {
    // A random subset of runs, random sizes (some above the coalescing limit), some replays of a past batch.
    const accepted: number[] = [];
    const calls = runs.flatMap((lease, i) => {
      if (rand() < 0.3) return [];
      const replay = next[i]! > 1 && rand() < 0.15;
      const n = rand() < 0.1 ? COALESCE_MAX_EVENTS + 1 + Math.floor(rand() * 20) : 1 + Math.floor(rand() * 5);
      const from = replay ? 1 : next[i]!;
      const events = lines(from, replay ? Math.min(n, next[i]! - 1) : n);
      accepted.push(replay ? 0 : n);
      if (!replay) {
        next[i] = from + n;
        sent[i]!.push(...events.map((e) => e.message!));
      }
      return [appends.append(lease, events, rand() < 0.5)];
    });
    const results = await Promise.all(calls);
    t.same(
      results.map((r) => (r.ok ? r.value.accepted : -1)),
      accepted,
      `round ${round}: every append answered, fresh ones stored, replays not`,
    );
  }
  t.ok(
    appends.statements < appends.appends,
    `${appends.appends} appends in ${appends.statements} statements`,
  );
  for (const [i, lease] of runs.entries()) {
    const stored = await readEvents(db.db, { runId: lease.runId, limit: 10_000 });
    t.same(
      stored.filter((e) => e.type === 'log').map((e) => e.message),
      sent[i],
      `run ${i}: every line once, in order`,
    );
    t.same(
      stored.map((e) => e.seq),
      stored.map((_, k) => k + 1),
      `run ${i}: gap-free run seqs`,
    );
  }
});
