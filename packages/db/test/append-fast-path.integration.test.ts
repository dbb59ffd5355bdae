// Issue 19 (fifth pass): an append whose batch is in strictly increasing worker seq and not yet stored goes
// through a fast statement (no per-event check, no sort, no ON CONFLICT); anything else through the checked
// one. These tests hold the fast path to the checked path's answers and rows over generated batch sequences
// (fresh, replayed tails, out of order, duplicates within a batch, step events, dirty text), to exactly-once
// storage under racing replays of the same batches, and to the old outcome when a row it did not expect is
// in its way.
import t from 'tap';
import { sql, type Kysely } from 'kysely';
import {
  appendEvents,
  claimRuns,
  connect,
  readEvents,
  type Database,
  type EventInput,
  type Lease,
} from '@ocr/db';
import { createTestDatabase, makeRuns } from '@ocr/testkit';
import { seededRandom } from '@ocr/testkit/random';

async function leases(db: Kysely<Database>, n: number): Promise<Lease[]> {
  await makeRuns(db, n);
  const claimed = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: n, leaseSeconds: 60 });
  return claimed.map((run) => ({ runId: run.id, leaseToken: run.lease_token! }));
}

function event(random: () => number, seq: number): EventInput {
  const r = random();
  if (r < 0.1)
    return {
      seq,
      level: 'info',
      type: random() < 0.5 ? 'step.started' : 'step.finished',
      step: `s${seq % 3}`,
      message: `step ${seq}`,
      data: {
        status: random() < 0.5 ? 'success' : 'bogus',
        index: seq % 3,
        kind: 'shell\u0000',
        exit_code: 0,
      },
    };
  return {
    seq,
    ...(random() < 0.3 ? { ts: new Date(Date.UTC(2020, 0, 1, 0, 0, seq)).toISOString() } : {}),
    level: random() < 0.8 ? 'info' : 'error',
    type: random() < 0.9 ? 'log' : 'ty\u0000pe',
    ...(random() < 0.5 ? { step: random() < 0.9 ? 'main' : 'st\ud800ep' } : {}),
    message:
      random() < 0.2
        ? `nul\u0000 and lone \ud800 surrogate ${seq}`
        : `line ${seq} "q" \\ {b} ${'x'.repeat(seq % 7)}`,
    ...(random() < 0.7
      ? {
          data:
            random() < 0.2
              ? { 'k\u0000': 'v\udfff', deep: Array.from({ length: 70 }).reduce<unknown>((a) => [a], 1) }
              : random() < 0.1
                ? null
                : { stream: 'stdout', n: seq, nested: [1.5, null, 'x'] },
        }
      : {}),
  };
}

/** A worker's next batch: usually fresh and ascending; sometimes a replayed tail, shuffled or with a duplicate. */
function nextBatch(random: () => number, next: number): { events: EventInput[]; next: number } {
  const n = 1 + Math.floor(random() * 30);
  const r = random();
  const start = next > 5 && r < 0.25 ? next - 1 - Math.floor(random() * 5) : next;
  let seqs = Array.from({ length: next + n - start }, (_, i) => start + i);
  if (r > 0.85) seqs = seqs.sort(() => random() - 0.5);
  else if (r > 0.8) seqs.splice(Math.floor(random() * seqs.length), 0, seqs[0]!);
  return { events: seqs.map((seq) => event(random, seq)), next: next + n };
}

t.test('fast and checked appends answer and store the same for generated batch sequences', async (t) => {
  const { db } = await createTestDatabase(t);
  const seed = Number(process.env.SEED ?? Date.now() % 1e9);
  const random = seededRandom(seed);
  for (let life = 0; life < 6; life++) {
    // Twin runs: one appended to as the API does (fast when it can be), one inside a transaction, which
    // always takes the checked statement.
    const [fast, checked] = await leases(db, 2);
    let next = 1;
    let fastPath = 0;
    for (let round = 0; round < 15; round++) {
      const batch = nextBatch(random, next);
      next = batch.next;
      const a = await appendEvents(db, fast!, batch.events);
      const b = await db.transaction().execute((trx) => appendEvents(trx, checked!, batch.events));
      t.same(a, b, `seed ${seed} life ${life} round ${round}: same answer`);
      if (batch.events.every((e, i) => i === 0 || e.seq > batch.events[i - 1]!.seq)) fastPath++;
    }
    t.ok(fastPath > 5, `seed ${seed} life ${life}: ${fastPath} of 15 batches could take the fast path`);
    // The twins differ in run id and in the database clock of events sent without a ts.
    const strip = async (lease: Lease) =>
      (await readEvents(db, { runId: lease.runId, limit: 10_000 })).map((e) => ({
        ...e,
        run_id: 'twin',
        ts: e.ts.getUTCFullYear() === 2020 ? e.ts.toISOString() : 'database clock',
      }));
    t.same(await strip(fast!), await strip(checked!), `seed ${seed} life ${life}: the same rows`);
    const steps = async (lease: Lease) =>
      (
        await sql<Record<string, unknown>>`
          SELECT attempt, idx, name, kind, status, finished_at IS NOT NULL AS finished, exit_code
          FROM run_steps WHERE run_id = ${lease.runId} ORDER BY idx`.execute(db)
      ).rows;
    t.same(await steps(fast!), await steps(checked!), `seed ${seed} life ${life}: the same run_steps`);
    const { rows } = await sql<{ id: string; last_seq: string }>`
      SELECT id, last_seq FROM runs WHERE id IN (${fast!.runId}, ${checked!.runId})`.execute(db);
    t.equal(rows[0]!.last_seq, rows[1]!.last_seq, 'the same last_seq');
  }
});

t.test('racing replays of the same batches store every event once, without a failed statement', async (t) => {
  const { db, url } = await createTestDatabase(t);
  const [lease] = await leases(db, 1);
  // Four appenders on their own connections send the same 20 batches of 50 at once, as workers retrying a
  // timed-out request do: most of them find a run another one committed to after their snapshot was taken.
  const appenders = Array.from({ length: 4 }, () => connect(url, { max: 1, prepare: true }));
  t.teardown(() => Promise.all(appenders.map((a) => a.close())));
  const rollbacks = async () => {
    const { rows } = await sql<{ n: string }>`
      SELECT xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()`.execute(db);
    return Number(rows[0]!.n);
  };
  const flush = () =>
    Promise.all(
      [db, ...appenders.map((a) => a.db)].map((d) => sql`SELECT pg_stat_force_next_flush()`.execute(d)),
    );
  await flush();
  await sql`SELECT pg_stat_clear_snapshot()`.execute(db);
  const before = await rollbacks();
  let accepted = 0;
  for (let b = 0; b < 20; b++) {
    const events: EventInput[] = Array.from({ length: 50 }, (_, i) => ({
      seq: b * 50 + i + 1,
      level: 'info',
      type: 'log',
      message: `line ${b * 50 + i + 1}`,
    }));
    const answers = await Promise.all(appenders.map((a) => appendEvents(a.db, lease!, events)));
    for (const answer of answers) {
      if (!answer.ok) throw new Error('append refused');
      accepted += answer.value.accepted;
      t.equal(answer.value.last_seq, b * 50 + 50, 'last_seq covers the batch');
    }
  }
  t.equal(accepted, 1000, 'each event accepted by exactly one of the racing appends');
  const stored = await readEvents(db, { runId: lease!.runId, limit: 10_000 });
  t.same(
    stored.map((e) => e.seq),
    stored.map((_, i) => i + 1),
    'run seqs 1..n without gaps',
  );
  t.same(
    stored.filter((e) => e.attempt_seq !== null).map((e) => e.attempt_seq),
    Array.from({ length: 1000 }, (_, i) => i + 1),
    'every worker seq once, in order',
  );
  await flush();
  await sql`SELECT 1`.execute(db);
  await Promise.all(appenders.map((a) => sql`SELECT 1`.execute(a.db)));
  await sql`SELECT pg_stat_clear_snapshot()`.execute(db);
  t.equal(
    await rollbacks(),
    before,
    'no statement failed: the races were seen, not hit as unique violations',
  );
});

t.test(
  'a stored row the fast statement did not expect: the checked statement skips it, as before',
  async (t) => {
    const { db } = await createTestDatabase(t);
    const [lease] = await leases(db, 1);
    const { rows } = await sql<{ last_seq: string; attempt: number }>`
    SELECT last_seq, attempt FROM runs WHERE id = ${lease!.runId}`.execute(db);
    const next = Number(rows[0]!.last_seq) + 2;
    // A row at the run seq the fast statement would give the second event, written behind last_seq's back.
    await sql`INSERT INTO run_events (run_id, seq, attempt, level, type, message)
            VALUES (${lease!.runId}, ${next}, ${rows[0]!.attempt}, 'info', 'stray', 'in the way')`.execute(
      db,
    );
    const events: EventInput[] = [1, 2, 3].map((seq) => ({
      seq,
      level: 'info',
      type: 'log',
      message: `m${seq}`,
    }));
    const answer = await appendEvents(db, lease!, events);
    t.same(
      answer,
      { ok: true, value: { accepted: 2, last_seq: 3, run_seq: next + 1 } },
      'the colliding event skipped',
    );
    const stored = await readEvents(db, { runId: lease!.runId, limit: 100 });
    t.same(
      stored.map((e) => [e.type, e.message]).slice(1),
      [
        ['log', 'm1'],
        ['stray', 'in the way'],
        ['log', 'm3'],
      ],
      'the stray row kept, the others stored around it',
    );
  },
);
