// An append with `returnEvents` (issue 19: the API hands a live feed the rows it stored instead of reading them
// back) returns exactly what `readEvents` then reads: the same rows, fields and types, in seq order, for
// generated batches of logs, step events, replays, NUL bytes and invalid text, over several runs at once;
// for runs whose claim was folded into the run row (timeline.ts: an append then writes rows after the folded
// prefix) and runs that never fold (timeline NULL), alike.
import t from 'tap';
import { sql } from 'kysely';
import {
  appendEvents,
  appendEventsMany,
  claimRuns,
  readEvents,
  type EventInput,
  type RunEventRow,
} from '@ocr/db';
import { createTestDatabase, makeRuns } from '@ocr/testkit';
import { seededRandom as rng } from '@ocr/testkit/random';

function batch(random: () => number, from: number, n: number): EventInput[] {
  return Array.from({ length: n }, (_, i) => {
    const seq = from + i;
    const pick = random();
    if (pick < 0.15)
      return {
        seq,
        level: 'info',
        type: random() < 0.5 ? 'step.started' : 'step.finished',
        step: `s${seq % 3}`,
        message: `step ${seq}`,
        // Key order as a worker sends it; jsonb stores its own order, which readers see.
        data: { status: 'success', index: seq % 3, kind: 'shell', exit_code: 0, duration_ms: seq },
      };
    return {
      seq,
      ...(random() < 0.5 ? { ts: new Date(Date.UTC(2020, 0, 1, 0, 0, seq)).toISOString() } : {}),
      level: random() < 0.8 ? 'info' : 'error',
      type: 'log',
      ...(random() < 0.5 ? { step: 'main' } : {}),
      message: random() < 0.2 ? `nul\u0000 and lone \ud800 surrogate ${seq}` : `line ${seq} "q" \\ {b}`,
      ...(random() < 0.7 ? { data: { stream: 'stdout', n: seq, nested: [1.5, null, 'x\u0000'] } } : {}),
    };
  });
}

t.test('returned rows equal what readEvents reads, for generated batches over several runs', async (t) => {
  const { db } = await createTestDatabase(t);
  const made = await makeRuns(db, 4);
  // Two of the four never fold: their claimed event is a row too.
  await sql`UPDATE runs SET timeline = NULL WHERE id = ANY(${[made[0]!.id, made[1]!.id]}::uuid[])`.execute(
    db,
  );
  const claimed = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 4, leaseSeconds: 60 });
  const leases = claimed.map((run) => ({ runId: run.id, leaseToken: run.lease_token! }));
  const random = rng(19);
  const next = new Map(leases.map((lease) => [lease.runId, 1]));
  const returned = new Map<string, RunEventRow[]>(leases.map((lease) => [lease.runId, []]));
  for (let round = 0; round < 12; round++) {
    const items = leases
      .filter(() => random() < 0.8)
      .map((lease) => {
        const from = next.get(lease.runId)!;
        const n = 1 + Math.floor(random() * 40);
        // Now and then the batch repeats the tail of the previous one: only the new events are stored.
        const start = from > 5 && random() < 0.3 ? from - 3 : from;
        next.set(lease.runId, start + n);
        return { lease, events: batch(random, start, from + n - start) };
      });
    const results =
      items.length === 1
        ? [await appendEvents(db, items[0]!.lease, items[0]!.events, { returnEvents: true })]
        : await appendEventsMany(db, items, { returnEvents: true });
    results.forEach((result, i) => {
      if (!result.ok) throw new Error('append refused');
      const rows = result.value.events!;
      t.equal(rows.length, result.value.accepted, 'one row per stored event');
      if (rows.length > 0) t.equal(rows.at(-1)!.seq, result.value.run_seq, 'the newest row is run_seq');
      returned.get(items[i]!.lease.runId)!.push(...rows);
    });
  }
  for (const lease of leases) {
    // The worker's events (the claim's own event has no worker seq).
    const stored = (await readEvents(db, { runId: lease.runId, limit: 10_000 })).filter(
      (row) => row.attempt_seq !== null,
    );
    t.ok(stored.length > 0, 'events were stored');
    t.same(returned.get(lease.runId), stored, 'returned rows equal the stored ones');
    t.ok(
      returned.get(lease.runId)!.every((row) => row.ts instanceof Date),
      'timestamps come back as Dates, as from a read',
    );
    const all = await readEvents(db, { runId: lease.runId, limit: 10_000 });
    t.same(
      all.map((e) => e.seq),
      all.map((_, i) => i + 1),
      'seqs 1..n without gaps',
    );
    t.equal(all[0]!.type, 'claimed', 'the claimed event first, folded or not');
    const { rows } = await sql<{ folded: number | null; rows: number }>`
      SELECT (SELECT cardinality(timeline) FROM runs WHERE id = ${lease.runId}) AS folded,
             (SELECT count(*)::int FROM run_events WHERE run_id = ${lease.runId}) AS rows`.execute(db);
    const unfolded = lease.runId === made[0]!.id || lease.runId === made[1]!.id;
    t.same(
      rows[0],
      unfolded ? { folded: null, rows: all.length } : { folded: 1, rows: all.length - 1 },
      unfolded ? 'never folded: every event a row' : 'the claim folded, the appends after it rows',
    );
  }
});

t.test('without returnEvents, or when nothing was stored, no rows come back', async (t) => {
  const { db } = await createTestDatabase(t);
  await makeRuns(db, 1);
  const [run] = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 1, leaseSeconds: 60 });
  const lease = { runId: run!.id, leaseToken: run!.lease_token! };
  const events: EventInput[] = [{ seq: 1, level: 'info', type: 'log', message: 'one' }];
  const plain = await appendEvents(db, lease, events);
  t.ok(plain.ok && plain.value.events === undefined, 'lean answer by default');
  const replay = await appendEvents(db, lease, events, { returnEvents: true });
  t.same(replay.ok && replay.value.events, [], 'a replay stores nothing and returns nothing');
  const lost = await appendEvents(db, { ...lease, leaseToken: run!.id }, events, { returnEvents: true });
  t.equal(lost.ok, false, 'a wrong lease is still refused');
});
