// The checked append (a retried, out-of-order or in-transaction batch) must not leave a gap in a run's seqs
// when another append commits to the run while it waits for the run's lock (docs/api.md: "no gaps"). Its
// replay check reads the statement's snapshot, which misses that append's events; such a run is sent again
// in a new statement instead of being numbered from a stale view.
import t, { type Test } from 'tap';
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

async function lease(db: Kysely<Database>): Promise<Lease> {
  await makeRuns(db, 1);
  const [run] = await claimRuns(db, { workerId: 'w', lanes: ['A'], limit: 1, leaseSeconds: 60 });
  return { runId: run!.id, leaseToken: run!.lease_token! };
}

const line = (seq: number): EventInput => ({ seq, level: 'info', type: 'log', message: `line ${seq}` });

async function assertGapFree(t: Test, db: Kysely<Database>, runId: string, workerSeqs: number) {
  const stored = await readEvents(db, { runId, limit: 100_000 });
  t.same(
    stored.map((e) => e.seq),
    stored.map((_, i) => i + 1),
    'run seqs 1..n without gaps',
  );
  t.same(
    stored
      .filter((e) => e.attempt_seq !== null)
      .map((e) => e.attempt_seq)
      .sort((a, b) => a! - b!),
    Array.from({ length: workerSeqs }, (_, i) => i + 1),
    'every worker seq stored once',
  );
  const { rows } = await sql<{
    last_seq: number;
  }>`SELECT last_seq FROM runs WHERE id = ${runId}::uuid`.execute(db);
  t.equal(rows[0]!.last_seq, stored.at(-1)!.seq, "the run's last_seq is its newest event");
}

t.test('an append that commits while a checked append waits for the lock leaves no gap', async (t) => {
  const { db, url } = await createTestDatabase(t);
  const l = await lease(db);
  const holder = connect(url, { max: 1 });
  const waiter = connect(url, { max: 1 });
  t.teardown(() => Promise.all([holder.close(), waiter.close()]));

  // The holder stores seqs 1-5 in a transaction and keeps the run locked; the waiter sends 5-1 then 6-10
  // out of order (the checked statement), takes its snapshot, and waits for the lock.
  let waited: Promise<unknown> | undefined;
  await holder.db.transaction().execute(async (tx) => {
    const first = await appendEvents(tx, l, [1, 2, 3, 4, 5].map(line));
    t.equal(first.ok && first.value.accepted, 5, 'the holder stored 5 events');
    waited = appendEvents(waiter.db, l, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1].map(line));
    // Commit only once the waiter is blocked on the run's row lock.
    for (;;) {
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%WITH input AS%'`.execute(
        db,
      );
      if (rows[0]!.n > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
  });
  const answer = (await waited) as Awaited<ReturnType<typeof appendEvents>>;
  t.ok(answer.ok, 'the waiting append succeeded');
  if (answer.ok) {
    t.equal(answer.value.accepted, 5, 'it stored only the 5 events the holder had not');
    t.equal(answer.value.last_seq, 10, 'and answers the newest worker seq');
  }
  await assertGapFree(t, db, l.runId, 10);
});

t.test('racing out-of-order replays of the same batches store every event once, without gaps', async (t) => {
  const { db, url } = await createTestDatabase(t);
  const l = await lease(db);
  const random = seededRandom(1905);
  const appenders = Array.from({ length: 4 }, () => connect(url, { max: 1, prepare: true }));
  t.teardown(() => Promise.all(appenders.map((a) => a.close())));
  let accepted = 0;
  for (let b = 0; b < 20; b++) {
    // Each appender sends the batch shuffled (never ascending, so always the checked statement) and
    // overlapping the previous batch, as a worker retrying a timed-out request with newer lines does.
    const seqs = Array.from({ length: 30 }, (_, i) => b * 25 + i + 1);
    const answers = await Promise.all(
      appenders.map((a) => {
        const shuffled = [...seqs].sort(() => random() - 0.5);
        if (shuffled.every((s, i) => i === 0 || s > shuffled[i - 1]!)) shuffled.reverse();
        return appendEvents(a.db, l, shuffled.map(line));
      }),
    );
    for (const answer of answers) {
      if (!answer.ok) throw new Error('append refused');
      accepted += answer.value.accepted;
    }
  }
  const total = 19 * 25 + 30;
  t.equal(accepted, total, 'each event accepted by exactly one of the racing appends');
  await assertGapFree(t, db, l.runId, total);
});
