/**
 * The worker's transport (undici `request` behind the client's `fetch` option) answers exactly as the
 * global `fetch` does for everything the worker protocol reads: data, error status, code, message and
 * details; and it honours the transport's abort and timeout signals.
 */
import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { ApiError, createClient } from '@ocr/client';
import { startStack } from '@ocr/testkit';
import { createApiFetch } from '../src/api-fetch.js';

/** What a call ended with, comparable across transports (ids and times that differ per call blanked). */
async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: JSON.parse(JSON.stringify(await call()).replace(/"\d{4}-\d\d-\d\dT[^"]+"/g, '"<ts>"')) };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { status: err.status, code: err.code, message: err.message, details: err.details };
  }
}

t.test('every worker call answers the same through undici request as through fetch', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create({ name: 'one', steps: [{ name: 's', kind: 'noop' }] });
  const { token } = await stack.tokenFor('worker');
  const viaFetch = createClient({ baseUrl: stack.apiUrl, token });
  const viaRequest = createClient({ baseUrl: stack.apiUrl, token, fetch: createApiFetch() });
  const badToken = createClient({ baseUrl: stack.apiUrl, token: 'nope', fetch: createApiFetch() });
  const badTokenFetch = createClient({ baseUrl: stack.apiUrl, token: 'nope' });
  const missing = '00000000-0000-4000-8000-000000000000';
  const calls: [string, (c: typeof viaFetch) => Promise<unknown>][] = [
    ['heartbeat of an unknown run', (c) => c.worker.heartbeat(missing, 'x'.repeat(32))],
    ['heartbeat batch', (c) => c.worker.heartbeatMany([{ run_id: missing, lease_token: 'x'.repeat(32) }])],
    ['events of an unknown run', (c) => c.worker.appendEvents(missing, 'x'.repeat(32), [])],
    ['invalid body', (c) => c.worker.claim({ worker_id: '', boot_id: 'b', lanes: [], limit: -1 })],
    ['complete unknown', (c) => c.worker.complete(missing, 'x'.repeat(32), { status: 'success' })],
    ['empty claim', (c) => c.worker.claim({ worker_id: 'w', boot_id: 'b', lanes: ['Z'], limit: 1 })],
  ];
  for (const [name, call] of calls)
    t.same(await outcome(() => call(viaRequest)), await outcome(() => call(viaFetch)), name);
  t.same(
    await outcome(() => badToken.worker.heartbeatMany([])),
    await outcome(() => badTokenFetch.worker.heartbeatMany([])),
    'a refused token',
  );
  t.match(await outcome(() => badToken.worker.heartbeatMany([])), { status: 401 });
  // A whole run through the new transport: claim, events, completion.
  const { run } = await stack.client.runs.create({ template: 'one' });
  const { runs } = await viaRequest.worker.claim({ worker_id: 'w', boot_id: 'b', lanes: ['A'], limit: 1 });
  t.equal(runs[0]?.run.id, run.id);
  const lease = runs[0]!.lease_token;
  t.match(
    await viaRequest.worker.appendEvents(run.id, lease, [
      { seq: 1, level: 'info', type: 'log', message: 'é \u2713', ts: new Date().toISOString() },
    ]),
    { accepted: 1 },
  );
  await viaRequest.worker.complete(run.id, lease, { status: 'success' });
  t.equal((await stack.client.runs.get(run.id)).run.status, 'success');
  const { events } = await stack.client.runs.events(run.id);
  t.ok(
    events.some((e) => e.message === 'é \u2713'),
    'text arrives intact',
  );
});

t.test('a parked claim is aborted by its signal; a silent server times out', async (t) => {
  const stack = await startStack(t, { s3: false });
  const { token } = await stack.tokenFor('worker');
  const client = createClient({ baseUrl: stack.apiUrl, token, fetch: createApiFetch() });
  const abort = new AbortController();
  const started = Date.now();
  const parked = client.worker.claim(
    { worker_id: 'w', boot_id: 'b', lanes: ['A'], limit: 1, wait_ms: 20_000 },
    abort.signal,
  );
  setImmediate(() => abort.abort(new Error('stop claiming')));
  await t.rejects(parked);
  t.ok(Date.now() - started < 10_000, 'aborted, not waited out');

  // Accepts and never answers; its connections are ended with the test (a server closes only once they are).
  const sockets: Socket[] = [];
  const silent = createServer((socket) => void sockets.push(socket)).listen(0, '127.0.0.1');
  await new Promise((r) => silent.once('listening', r));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((r) => silent.close(r));
  });
  const port = (silent.address() as { port: number }).port;
  const slow = createClient({
    baseUrl: `http://127.0.0.1:${port}`,
    token,
    timeoutMs: 300,
    fetch: createApiFetch(),
  });
  const before = Date.now();
  await t.rejects(slow.worker.heartbeatMany([]));
  t.ok(Date.now() - before < 10_000, 'the timeout ended it');
});
