import t from 'tap';
import { ApiError } from '@ocr/client';
import { startStack } from '@ocr/testkit';
import { raw, withEchoTemplate } from './helpers.js';

t.test('create, read, list, cancel, retry a run', async (t) => {
  const stack = await startStack(t, { s3: false });
  await withEchoTemplate(stack);
  const { run } = await stack.client.runs.create({ template: 'echo', params: { message: 'hi' } });
  t.equal(run.status, 'queued');
  t.equal(run.lane, 'A');
  t.same(run.params, { message: 'hi', count: 1 }, 'defaults from the params schema applied');
  t.equal(run.max_attempts, 2, 'from the template retry policy');
  t.match(run.wait_reason, /no live worker for lane A/);
  const detail = await stack.client.runs.get(run.id);
  t.equal(detail.run.id, run.id);
  const list = await stack.client.runs.list({ status: 'queued' });
  t.equal(list.runs.length, 1);
  const cancelled = await stack.client.runs.cancel(run.id);
  t.equal(cancelled.run.status, 'cancelled');
  await t.rejects(stack.client.runs.cancel(run.id), { code: 'conflict', status: 409 });
  const retried = await stack.client.runs.retry(run.id);
  t.equal(retried.run.retry_of, run.id);
  const events = await stack.client.runs.events(run.id);
  t.ok(events.events.some((e) => e.type === 'status'));
});

t.test(
  'idempotency key returns the original run for the same request; another request under it is a 409',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await withEchoTemplate(stack);
    const a = await raw(stack, 'POST', '/v1/runs', {
      body: JSON.stringify({ template: 'echo', params: { message: 'a' } }),
      headers: { 'idempotency-key': 'k-1' },
    });
    const b = await raw(stack, 'POST', '/v1/runs', {
      body: JSON.stringify({ template: 'echo', params: { message: 'a' } }),
      headers: { 'idempotency-key': 'k-1' },
    });
    t.equal(a.status, 201);
    t.equal(b.status, 200, 'a replay answers 200 with the original');
    t.equal(b.json.run.id, a.json.run.id);
    const c = await raw(stack, 'POST', '/v1/runs', {
      body: JSON.stringify({ template: 'echo', params: { message: 'b' } }),
      headers: { 'idempotency-key': 'k-1' },
    });
    t.equal(c.status, 409);
    t.equal(c.json.error.code, 'idempotency_conflict');
  },
);

t.test('batch create is atomic: one bad item creates nothing', async (t) => {
  const stack = await startStack(t, { s3: false });
  await withEchoTemplate(stack);
  const good = Array.from({ length: 5 }, (_, i) => ({ template: 'echo', params: { message: `m${i}` } }));
  const { runs } = await stack.client.runs.createBatch(good);
  t.equal(runs.length, 5);
  const err = await stack.client.runs
    .createBatch([...good, { template: 'echo', params: { message: 5 as unknown as string } }])
    .catch((e) => e);
  t.ok(err instanceof ApiError);
  t.equal(err.code, 'validation_failed');
  t.match(err.message, /runs\[5\]\.params\.message/);
  t.equal((await stack.client.runs.list()).runs.length, 5, 'nothing more was created');
});

t.test('keyset paging and filters', async (t) => {
  const stack = await startStack(t, { s3: false });
  await withEchoTemplate(stack);
  await stack.client.runs.createBatch(
    Array.from({ length: 25 }, (_, i) => ({
      template: 'echo',
      params: { message: `needle-${i}` },
      lane: i % 2 ? 'B' : 'A',
    })),
  );
  const seen = new Set<string>();
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await stack.client.runs.list({ limit: 10, cursor });
    page.runs.forEach((r) => seen.add(r.id));
    cursor = page.next_cursor ?? undefined;
    pages++;
  } while (cursor);
  t.equal(seen.size, 25);
  t.equal(pages, 3);
  t.equal((await stack.client.runs.list({ lane: 'B', limit: 200 })).runs.length, 12);
  t.equal((await stack.client.runs.list({ q: 'needle-17' })).runs.length, 1);
  t.equal(
    (await stack.client.runs.list({ q: "'; DROP TABLE runs; --" })).runs.length,
    0,
    'injection string is just text',
  );
  t.equal((await stack.client.runs.list({ limit: 200 })).runs.length, 25, 'table intact');
});

t.test(
  'cancel and retry with an idempotency key: a replay answers the first result; nothing happens twice',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await withEchoTemplate(stack);
    const other = await stack.tokenFor('operator');
    const { run } = await stack.client.runs.create({ template: 'echo', params: { message: 'x' } });

    const first = await stack.client.runs.cancel(run.id, { idempotencyKey: 'c-1' });
    t.equal(first.run.status, 'cancelled');
    const again = await stack.client.runs.cancel(run.id, { idempotencyKey: 'c-1' });
    t.equal(again.run.status, 'cancelled', 'the replay answers 200 with the run, not 409');
    await t.rejects(
      stack.client.runs.cancel(run.id, { idempotencyKey: 'c-2' }),
      { code: 'conflict', status: 409 },
      'another key on a finished run is still a conflict',
    );
    await t.rejects(
      other.client.runs.cancel(run.id, { idempotencyKey: 'c-1' }),
      { code: 'conflict', status: 409 },
      "another token's key of the same name is not a replay",
    );
    await t.rejects(stack.client.runs.cancel(run.id), { code: 'conflict' }, 'no key: conflict as before');
    const cancelEvents = (await stack.client.runs.events(run.id)).events.filter(
      (e) => e.type === 'status' && /cancelled while queued/.test(e.message),
    );
    t.equal(cancelEvents.length, 1, 'one cancel event');
    t.notMatch(JSON.stringify(cancelEvents[0]!.data), /c-1/, 'the key is stored hashed');

    const a = await raw(stack, 'POST', `/v1/runs/${run.id}/retry`, { headers: { 'idempotency-key': 'r-1' } });
    const b = await raw(stack, 'POST', `/v1/runs/${run.id}/retry`, { headers: { 'idempotency-key': 'r-1' } });
    t.equal(a.status, 201);
    t.equal(b.status, 200, 'a replayed retry answers 200');
    t.equal(b.json.run.id, a.json.run.id, 'with the run the first retry created');
    const retries = (await stack.client.runs.list({ limit: 200 })).runs.filter((r) => r.retry_of === run.id);
    t.equal(retries.length, 1, 'one retry run, whatever the replays');

    const { run: second } = await stack.client.runs.create({ template: 'echo', params: { message: 'y' } });
    await stack.client.runs.cancel(second.id);
    const clash = await raw(stack, 'POST', `/v1/runs/${second.id}/retry`, {
      headers: { 'idempotency-key': 'r-1' },
    });
    t.equal(clash.status, 409, 'the key of a retry of another run');
    t.equal(clash.json.error.code, 'idempotency_conflict');
    t.equal(clash.json.error.details.run_id, a.json.run.id);
    const create = await raw(stack, 'POST', '/v1/runs', {
      body: JSON.stringify({ template: 'echo', params: { message: 'z' } }),
      headers: { 'idempotency-key': 'r-1' },
    });
    t.equal(create.json.error?.code, 'idempotency_conflict', 'retry keys share the create key space');
    t.equal(
      (await stack.client.runs.list({ limit: 200 })).runs.filter((r) => r.retry_of === second.id).length,
      0,
      'a refused retry creates nothing',
    );
  },
);
