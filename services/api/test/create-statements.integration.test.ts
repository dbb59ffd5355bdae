import t from 'tap';
import type pg from 'pg';
import { PREPARED } from '@ocr/db';
import { startStack, type Stack } from '@ocr/testkit';
import { seededRandom } from '@ocr/testkit/random';
import { raw, withEchoTemplate } from './helpers.js';

/**
 * Every statement the API's pool sends, in order (the real statements go through unchanged): the create
 * routes send a run without an idempotency key as its one INSERT statement, with no BEGIN or COMMIT round
 * trips before the commit a parked claim waits for.
 */
function recordStatements(stack: Stack): string[] {
  const sent: string[] = [];
  const wrapped = new WeakSet<pg.PoolClient>();
  stack.api.app.pool.on('acquire', (client) => {
    if (wrapped.has(client)) return;
    wrapped.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text;
      sent.push(text ?? '');
      return query(...args);
    };
  });
  return sent;
}

const isBegin = (text: string) => /^\s*begin\b/i.test(text);
const isInsert = (text: string) => /INSERT INTO runs\b/.test(text);

t.test(
  'generated creates: without an idempotency key one statement and no transaction round trips; with one a transaction; same answers',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await withEchoTemplate(stack);
    const sent = recordStatements(stack);
    const seed = Date.now() % 100_000;
    const random = seededRandom(seed);
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    const lanes = ['A', 'B', `gen-${seed}-1`, `gen-${seed}-2`];
    const created = new Map<string, { lane: string; message: string }>();
    for (let i = 0; i < 30; i++) {
      const items = Array.from({ length: random() < 0.5 ? 1 : 1 + Math.floor(random() * 5) }, (_, j) => ({
        template: 'echo',
        lane: pick(lanes),
        params: { message: `m-${i}-${j}` },
      }));
      const keyed = random() < 0.4;
      const batch = items.length > 1 || random() < 0.5;
      const headers: Record<string, string> = keyed ? { 'idempotency-key': `key-${seed}-${i}` } : {};
      sent.length = 0;
      const answer = batch
        ? await raw(stack, 'POST', '/v1/runs/batch', { body: JSON.stringify({ runs: items }), headers })
        : await raw(stack, 'POST', '/v1/runs', { body: JSON.stringify(items[0]), headers });
      const at = `seed ${seed}, request ${i} (${batch ? `batch of ${items.length}` : 'single'}, ${keyed ? 'keyed' : 'no key'})`;
      t.equal(answer.status, 201, at);
      const runs: { id: string; lane: string; params: { message: string } }[] = batch
        ? answer.json.runs
        : [answer.json.run];
      t.same(
        runs.map((run) => [run.lane, run.params.message]),
        items.map((item) => [item.lane, item.params.message]),
        `${at}: one run per item, in order`,
      );
      for (const run of runs) created.set(run.id, { lane: run.lane, message: run.params.message });
      t.equal(sent.filter(isInsert).length, 1, `${at}: one INSERT statement`);
      t.ok(
        sent.filter(isInsert).every((text) => text.startsWith(PREPARED)),
        `${at}: the INSERT is sent as a prepared statement`,
      );
      t.equal(sent.some(isBegin), keyed, `${at}: ${keyed ? 'a transaction (the key check)' : 'no BEGIN'}`);
      // A replay under the same key answers the same runs and creates nothing.
      if (keyed) {
        const again = batch
          ? await raw(stack, 'POST', '/v1/runs/batch', { body: JSON.stringify({ runs: items }), headers })
          : await raw(stack, 'POST', '/v1/runs', { body: JSON.stringify(items[0]), headers });
        const replayed: { id: string }[] = batch ? again.json.runs : [again.json.run];
        t.same(
          replayed.map((run) => run.id),
          runs.map((run) => run.id),
          `${at}: replay answers the originals`,
        );
      }
    }
    const stored = await stack.db.db.selectFrom('runs').select(['id', 'lane', 'params']).execute();
    t.same(
      new Map(
        stored.map((run) => [
          run.id,
          { lane: run.lane, message: (run.params as { message: string }).message },
        ]),
      ),
      created,
      `seed ${seed}: the database holds exactly the answered runs`,
    );
  },
);

t.test(
  'a batch without an idempotency key is still atomic: a database error on one item creates no run and no lane',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await withEchoTemplate(stack);
    // A fault the request validation cannot see: the database refuses one row of the statement.
    await stack.db.pool.query(`
      CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.params->>'message' = 'boom' THEN RAISE EXCEPTION 'refused by the test'; END IF;
        RETURN NEW;
      END $$`);
    await stack.db.pool.query(
      'CREATE TRIGGER refuse_boom BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION refuse_boom()',
    );
    const lanesBefore = (await stack.db.db.selectFrom('lanes').select('name').execute()).map((l) => l.name);
    for (const keyed of [false, true]) {
      for (const single of [true, false]) {
        const boom = { template: 'echo', lane: `new-lane-${keyed}-${single}`, params: { message: 'boom' } };
        const headers: Record<string, string> = keyed ? { 'idempotency-key': `k-${single}` } : {};
        const answer = single
          ? await raw(stack, 'POST', '/v1/runs', { body: JSON.stringify(boom), headers })
          : await raw(stack, 'POST', '/v1/runs/batch', {
              body: JSON.stringify({
                runs: [
                  { template: 'echo', lane: 'fresh-lane', params: { message: 'fine' } },
                  { template: 'echo', params: { message: 'fine too' } },
                  boom,
                ],
              }),
              headers,
            });
        t.equal(answer.status, 500, `${keyed ? 'keyed' : 'no key'}, ${single ? 'single' : 'batch'}: refused`);
      }
    }
    const runs = await stack.db.db.selectFrom('runs').select('id').execute();
    t.equal(runs.length, 0, 'no run created');
    const lanesAfter = (await stack.db.db.selectFrom('lanes').select('name').execute()).map((l) => l.name);
    t.same(lanesAfter.sort(), lanesBefore.sort(), 'no lane created');
  },
);
