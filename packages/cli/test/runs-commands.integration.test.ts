/** `ocr runs list|get|cancel|retry` with --json, and the exit codes of the client commands: real binary, real API. */
import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { isApiError, type Run, type RunDetail } from '@ocr/client';
import { startStack } from '@ocr/testkit';
import { envFor, ocr, tempDir, writeTemplates } from './cli-helpers.js';

/** A loopback port nothing listens on (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const HELLO = {
  name: 'hello',
  steps: [{ name: 'say', kind: 'shell', script: 'echo hello' }],
};

t.test('runs list, get, cancel and retry, with --json parsed', async (t) => {
  const stack = await startStack(t, { s3: false });
  const env = envFor(stack);
  await stack.client.templates.create({
    name: 'waits',
    default_lane: 'C',
    steps: [{ name: 's', kind: 'noop' }],
  });
  await stack.client.templates.create({ name: 'other', steps: [{ name: 's', kind: 'noop' }] });
  // No worker runs, so the runs stay queued.
  const created: Run[] = [];
  for (let i = 0; i < 3; i++) created.push((await stack.client.runs.create({ template: 'waits' })).run);
  await stack.client.runs.create({ template: 'other' });

  const list = await ocr(env, 'runs', 'list', '--template', 'waits', '--json');
  t.equal(list.code, 0, list.stderr);
  const listed = JSON.parse(list.stdout) as Run[];
  t.same(listed.map((r) => r.id).sort(), created.map((r) => r.id).sort());
  const lane = JSON.parse(
    (await ocr(env, 'runs', 'list', '--lane', 'C', '--limit', '2', '--json')).stdout,
  ) as Run[];
  t.equal(lane.length, 2);
  t.ok(lane.every((r) => r.lane === 'C'));
  const table = await ocr(env, 'runs', 'list', '--status', 'queued');
  t.match(table.stdout, /^ID\s+TEMPLATE\s+LANE\s+STATUS\s+ATTEMPT\s+CREATED\s+FINISHED\n/);
  t.equal(table.stdout.trim().split('\n').length, 5, 'a header and four runs');

  const id = created[0]!.id;
  const get = await ocr(env, 'runs', 'get', id, '--json');
  t.equal(get.code, 0, get.stderr);
  t.match(JSON.parse(get.stdout) as RunDetail, {
    run: { id, status: 'queued', template: 'waits' },
    steps: [],
  });
  t.match(
    (await ocr(env, 'runs', 'get', id)).stdout,
    new RegExp(`^id: +${id}\\ntemplate: +waits v1\\nlane: +C\\nstatus: +queued`),
  );

  const cancel = await ocr(env, 'runs', 'cancel', id, '--json');
  t.equal(cancel.code, 0, cancel.stderr);
  t.match(JSON.parse(cancel.stdout) as Run, { id, status: 'cancelled' });
  const logs = await ocr(env, 'logs', id, '--json');
  t.equal(logs.code, 0, logs.stderr);
  const events = logs.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { seq: number; type: string });
  t.ok(events.length > 0, 'the cancelled run has events');
  t.same(
    events.map((e) => e.seq),
    events.map((e) => e.seq).sort((a, b) => a - b),
    'NDJSON, in seq order',
  );
  t.ok(
    events.some((e) => e.type.startsWith('cancel') || e.type === 'status'),
    'the cancel is among them',
  );
  const again = await ocr(env, 'runs', 'cancel', id);
  t.equal(again.code, 4, 'cancelling a finished run is a conflict');
  t.match(again.stderr, 'ocr: conflict: run is already cancelled');

  const retry = await ocr(env, 'runs', 'retry', id, '--json');
  t.equal(retry.code, 0, retry.stderr);
  const retried = JSON.parse(retry.stdout) as Run;
  t.match(retried, { retry_of: id, status: 'queued', template: 'waits' });
  t.not(retried.id, id);
  const retryQueued = await ocr(env, 'runs', 'retry', created[1]!.id);
  t.equal(retryQueued.code, 4, 'a queued run cannot be retried');
  t.match((await ocr(env, 'runs', 'cancel', created[1]!.id)).stdout, `run ${created[1]!.id}: cancelled`);

  const missing = await ocr(env, 'runs', 'get', randomUUID());
  t.equal(missing.code, 3);
  t.match(missing.stderr, 'ocr: not_found:');
  t.equal((await ocr(env, 'runs', 'cancel', randomUUID())).code, 3);
});

t.test('exit codes: unauthorized, forbidden, not found, unreachable, usage', async (t) => {
  const stack = await startStack(t, { s3: false });
  const dir = await tempDir(t);
  await writeTemplates(dir, { 'hello.yaml': HELLO });

  const bogus = await ocr(envFor(stack, 'ocr_not_a_real_token'), 'templates', 'list', '--json');
  t.equal(bogus.code, 2, 'an unknown token: the API refused');
  t.match(bogus.stderr, 'ocr: unauthorized:');
  t.equal(bogus.stdout, '');

  const { token: viewer } = await stack.tokenFor('viewer');
  const listed = await ocr(envFor(stack, viewer), 'templates', 'list', '--json');
  t.equal(listed.code, 0, 'a viewer reads');
  const refused = await ocr(envFor(stack, viewer), 'templates', 'apply', '-f', dir);
  t.equal(refused.code, 2, 'a viewer may not apply');
  t.match(refused.stderr, 'ocr: forbidden:');
  const cancel = await ocr(envFor(stack, viewer), 'runs', 'cancel', randomUUID());
  t.equal(cancel.code, 2);

  const notFound = await ocr(envFor(stack), 'templates', 'get', 'no-such-template');
  t.equal(notFound.code, 3);
  const exportMissing = await ocr(envFor(stack), 'templates', 'export', 'no-such-template');
  t.equal(exportMissing.code, 3);

  const down = await ocr(
    { OCR_API_URL: `http://127.0.0.1:${await closedPort()}`, OCR_TOKEN: 'x' },
    'runs',
    'list',
  );
  t.equal(down.code, 5, 'unreachable');
  t.match(down.stderr, /ocr: cannot reach the API \(ECONNREFUSED\)/);

  t.equal((await ocr(envFor(stack), 'runs', 'list', '--status', 'bogus')).code, 1, 'a bad choice is usage');
  t.equal((await ocr(envFor(stack), 'runs', 'list', '--limit', '0')).code, 1);
  t.equal((await ocr(envFor(stack), 'templates', 'apply', '-f', dir, '--exit-code')).code, 1);
  t.equal(
    (await ocr({ OCR_API_URL: stack.apiUrl, OCR_TOKEN: '', OCR_ADMIN_TOKEN: '' }, 'runs', 'list')).code,
    1,
  );
  try {
    await stack.client.templates.get('hello');
    t.fail('hello must not exist');
  } catch (err) {
    t.ok(isApiError(err, 'not_found'));
  }
});
