import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { startStack, type Stack } from '@ocr/testkit';
import type { Worker } from '../src/index.js';
import { startTestWorker } from './helpers.js';

/**
 * Whatever a step prints must never fail its completion: NUL bytes, invalid UTF-8 and deeply nested JSON
 * are cleaned on the way in (U+FFFD), the run ends with its real outcome on its first attempt, and every
 * line is stored. Regression for issue 14: one NUL re-executed a `max_attempts: 1` run three times.
 */

/** Every run.started of a worker, per run, counted from before any run exists (a claim can beat a listener). */
const started = new WeakMap<Worker, Map<string, number>>();
function countStarts(worker: Worker): void {
  const counts = new Map<string, number>();
  started.set(worker, counts);
  worker.on('run.started', (id: string) => counts.set(id, (counts.get(id) ?? 0) + 1));
}

async function runOnce(stack: Stack, worker: Worker, template: string) {
  if (!started.has(worker)) countStarts(worker);
  const { run } = await stack.client.runs.create({ template });
  const end = await new Promise<string>((resolve) => {
    const poll = async () => {
      const { run: now } = await stack.client.runs.get(run.id);
      if (
        ['success', 'error', 'cancelled'].includes(now.status) &&
        !(started.get(worker)!.get(run.id) === undefined)
      )
        resolve(now.status);
      else setTimeout(poll, 50);
    };
    void poll();
  });
  const detail = await stack.client.runs.get(run.id);
  const { events } = await stack.client.runs.events(run.id, { limit: 5000 });
  return {
    end,
    executions: started.get(worker)!.get(run.id) ?? 0,
    detail,
    events,
    logs: events.filter((e) => e.type === 'log').map((e) => e.message),
  };
}

const once1 = { max_attempts: 1, backoff: { initial_s: 0, factor: 1, max_s: 0 } };

t.test(
  'a shell step printing NUL and invalid UTF-8 succeeds on its only attempt with every line stored',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await stack.client.templates.create({
      name: 'nul',
      retry: once1,
      steps: [{ name: 'p', kind: 'shell', script: "echo before; printf 'x\\000y\\n'; echo after" }],
    });
    await stack.client.templates.create({
      name: 'utf8',
      retry: once1,
      steps: [
        {
          name: 'p',
          kind: 'shell',
          script: "echo before; printf 'a\\377\\376b\\n'; printf 'c\\000\\000\\n'; echo after",
        },
      ],
    });
    const worker = await startTestWorker(t, stack);

    const nul = await runOnce(stack, worker, 'nul');
    t.equal(nul.end, 'success');
    t.equal(nul.executions, 1, 'executed once');
    t.equal(nul.detail.run.status, 'success');
    t.equal(nul.detail.run.attempt, 1);
    t.same(nul.logs, ['before', 'x\uFFFDy', 'after'], 'NUL replaced, all lines stored');

    const utf8 = await runOnce(stack, worker, 'utf8');
    t.equal(utf8.end, 'success');
    t.equal(utf8.executions, 1);
    t.equal(utf8.detail.run.status, 'success');
    t.equal(utf8.logs.length, 4);
    t.equal(utf8.logs[0], 'before');
    t.match(utf8.logs[1], /^a\uFFFD+b$/, 'invalid UTF-8 replaced');
    t.equal(utf8.logs[2], 'c\uFFFD\uFFFD');
    t.equal(utf8.logs[3], 'after');
  },
);

t.test(
  'a failing step whose error carries NUL fails cleanly once (never requeued as an infrastructure loss)',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await stack.client.templates.create({
      name: 'nulfail',
      retry: once1,
      steps: [{ name: 'p', kind: 'shell', script: "printf 'x\\000y\\n'; exit 7" }],
    });
    const worker = await startTestWorker(t, stack);
    const r = await runOnce(stack, worker, 'nulfail');
    t.equal(r.end, 'error');
    t.equal(r.executions, 1);
    t.equal(r.detail.run.status, 'error');
    t.match(r.detail.run.error, { code: 'exit_code' });
    t.same(r.logs, ['x\uFFFDy']);
  },
);

t.test(
  'http steps answered with NUL, invalid UTF-8 or deeply nested JSON complete on their only attempt',
  async (t) => {
    const depth = 20_000;
    const server = createServer((req, res) => {
      if (req.url === '/nul') {
        res.setHeader('content-type', 'text/plain');
        res.end(Buffer.from('one\ntw\u0000o\nthree\n'));
      } else if (req.url === '/nuljson') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ 'k\u0000ey': 'v\u0000al', lone: '\ud800' }));
      } else if (req.url === '/bytes') {
        res.setHeader('content-type', 'text/plain');
        res.end(Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a]));
      } else {
        res.setHeader('content-type', 'application/json');
        res.end('['.repeat(depth) + '1' + ']'.repeat(depth));
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const stack = await startStack(t, { s3: false });
    for (const path of ['nul', 'nuljson', 'bytes', 'deep']) {
      await stack.client.templates.create({
        name: `http-${path}`,
        retry: once1,
        steps: [{ name: 'get', kind: 'http', url: `${base}/${path}`, allow_private: true }],
      });
    }
    const worker = await startTestWorker(t, stack, { OCR_HTTP_STEPS_MAY_ALLOW_PRIVATE: 'true' });
    for (const path of ['nul', 'nuljson', 'bytes', 'deep']) {
      const r = await runOnce(stack, worker, `http-${path}`);
      t.equal(r.end, 'success', `${path}: success`);
      t.equal(r.executions, 1, `${path}: executed once`);
      t.equal(r.detail.run.status, 'success', `${path}: stored as success`);
      t.equal(r.detail.run.attempt, 1);
      t.ok(
        r.events.some((e) => e.type === 'http.response'),
        `${path}: response recorded`,
      );
      if (path === 'nul') t.same(r.logs, ['one', 'tw\uFFFDo', 'three']);
      if (path === 'nuljson')
        t.match(r.detail.run.output, { get: { body: { 'k\uFFFDey': 'v\uFFFDal', lone: '\uFFFD' } } });
      if (path === 'bytes') t.match(r.logs, [/^a\uFFFD+b$/]);
    }
  },
);
