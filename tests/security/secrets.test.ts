/**
 * Secrets are found nowhere a viewer can look. First a param the template marks secret (`writeOnly`, `format: password`) is found nowhere a viewer can look:
 * not in any API answer about the run (get, list, search, export as JSON and Markdown), not in a WebSocket
 * message (the runs topic and the run's own events), not in its events (output lines, step messages),
 * artifacts (in-memory and file), the run's error or output, nor in the worker's log — although the step
 * printed it to stdout and stderr, wrote it to an artifact, returned it and failed with it.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import WebSocket from 'ws';
import { Stream, type WebSocketLike } from '@ocr/client';
import { startStack, type Stack } from '@ocr/testkit';
import { ensureTestImage, TEST_IMAGE } from '@ocr/testkit/docker-image';
import { createClientProtocol, loadWorkerConfig, Worker } from '@ocr/worker';

const SECRET = 'hunter2-Sup3rS3cret-value';

/** A worker on lane A whose every log line (at trace) is kept, to be searched for secrets. */
async function loggingWorker(stack: Stack, env: Record<string, string>) {
  const { token } = await stack.tokenFor('worker');
  const logged: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logged.push(chunk.toString('utf8'));
      done();
    },
  });
  const config = loadWorkerConfig({
    OCR_API_URL: stack.apiUrl,
    OCR_TOKEN: token,
    OCR_LANES: 'A',
    OCR_CLAIM_WAIT_MS: '1000',
    OCR_EVENT_FLUSH_MS: '50',
    ...env,
  });
  const api = createClientProtocol({ baseUrl: stack.apiUrl, token });
  const worker = new Worker({ api, config, log: pino({ level: 'trace' }, sink) });
  return { worker, logged, config };
}

t.test(
  'a secret param is masked in every answer, message, event, artifact, error and log line',
  async (t) => {
    const stack = await startStack(t);
    await stack.client.templates.create({
      name: 'uses-secret',
      params_schema: {
        type: 'object',
        properties: {
          token: { type: 'string', writeOnly: true },
          pin: { type: 'string', format: 'password' },
          who: { type: 'string' },
        },
        required: ['token'],
      },
      steps: [
        {
          name: 'print',
          kind: 'shell',
          script:
            'echo "token is $OCR_PARAM_TOKEN"; echo "pin $OCR_PARAM_PIN" >&2; mkdir -p out; echo "report for {{params.who}}: $OCR_PARAM_TOKEN" > out/r.md; echo {{params.token}}',
          artifacts: [{ path: 'out/r.md', kind: 'markdown' }],
        },
        { name: 'fail', kind: 'shell', script: 'echo "failing with $OCR_PARAM_TOKEN" >&2; exit 3' },
      ],
    });
    const { worker, logged } = await loggingWorker(stack, { OCR_WORKER_ID: 'secret-worker' });

    const messages: string[] = [];
    const stream = new Stream({
      baseUrl: stack.apiUrl,
      token: stack.adminToken,
      webSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
    });
    t.teardown(() => stream.close());
    stream.subscribe('runs', (payload) => messages.push(JSON.stringify(payload)));

    const created = await stack.client.runs.create({
      template: 'uses-secret',
      params: { token: SECRET, pin: '9731-pin-code', who: 'ops' },
    });
    const answers: string[] = [JSON.stringify(created)];
    stream.subscribeRun(created.run.id, 0, (event) => messages.push(JSON.stringify(event)));
    const done = new Promise<void>((resolve) =>
      worker.on('run.finished', (id: string) => id === created.run.id && resolve()),
    );
    worker.start();
    t.teardown(() => worker.drain(2000));
    await done;

    const id = created.run.id;
    const detail = await stack.client.runs.get(id);
    t.equal(detail.run.status, 'error', 'the run ran and failed as written');
    t.match(detail.run.params, { token: '••••', pin: '••••', who: 'ops' }, 'secret params are shown masked');
    answers.push(JSON.stringify(detail));
    answers.push(JSON.stringify(await stack.client.runs.list({ limit: 100 })));
    answers.push(JSON.stringify(await stack.client.runs.list({ q: 'ops' })));
    const { events } = await stack.client.runs.events(id, { limit: 5000 });
    answers.push(JSON.stringify(events));
    t.ok(
      events.some((e) => e.message === 'token is ••••'),
      'stdout masked',
    );
    t.ok(
      events.some((e) => e.message === 'pin ••••'),
      'stderr masked',
    );
    t.ok(events.some((e) => e.message === 'failing with ••••'));
    answers.push(await (await stack.client.runs.export(id, 'json')).text());
    answers.push(await (await stack.client.runs.export(id, 'markdown')).text());
    const { artifacts } = await stack.client.runs.artifacts(id);
    t.ok(artifacts.length >= 1, 'the artifact was uploaded');
    for (const artifact of artifacts) {
      const text = await (await stack.client.artifacts.content(artifact.id)).text();
      t.equal(text.includes('••••'), true, `artifact ${artifact.name} is masked`);
      answers.push(text, JSON.stringify(artifact));
    }
    // Give the stream a moment to deliver the last events: wait until the final status arrived.
    for (let i = 0; i < 100 && !messages.some((m) => m.includes('"status":"error"')); i++)
      await new Promise((r) => setTimeout(r, 50));
    t.ok(messages.length > 0, `${messages.length} stream messages`);

    const everything = [...answers, ...messages, ...logged].join('\n');
    t.ok(everything.length > 1000, `${everything.length} characters searched`);
    for (const value of [SECRET, '9731-pin-code'])
      t.notOk(everything.includes(value), `${value} appears nowhere`);
    t.ok(logged.length > 0, 'the worker logged');
  },
);

/** A loopback server that records what an http step sent and echoes it back (so the body carries it too). */
async function startEchoServer(t: { teardown(fn: () => unknown): void }) {
  const received: string[] = [];
  const server = createServer((req, res) => {
    const seen = JSON.stringify({ url: req.url, token: req.headers['x-token'] });
    received.push(seen);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(seen);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

t.test(
  '{{secrets.NAME}}: values from the worker (env and files) reach the step and appear nowhere else',
  async (t) => {
    const TOKEN = 'tok/9f3e+1c77=Kq0Zz worker-only';
    const DB_PASSWORD = 'db-pw-51e9a0c2-first';
    const DB_PASSWORD_ROTATED = 'db-pw-ee41b7d9-rotated';
    const KEY =
      '-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B-line-one\nAQEFAASCBKcwggSjAgEAAoIBAQ-line-two\n-----END KEY-----';
    const values = [TOKEN, DB_PASSWORD, DB_PASSWORD_ROTATED, ...KEY.split('\n').slice(1, 3)];

    const stack = await startStack(t);
    await ensureTestImage();
    const echo = await startEchoServer(t);
    // The secrets directory as Kubernetes mounts a Secret: one file per key, plus its own `..data` entries.
    const dir = await mkdtemp(join(tmpdir(), 'ocr-secrets-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'db_password'), `${DB_PASSWORD}\n`);
    await writeFile(join(dir, 'tls_key'), KEY);
    await mkdir(join(dir, '..2026_12_04_data'));
    await symlink('..2026_12_04_data', join(dir, '..data'));

    await stack.client.templates.create({
      name: 'uses-worker-secrets',
      steps: [
        {
          name: 'print',
          kind: 'shell',
          script: [
            'echo "token is {{secrets.API_TOKEN}}"',
            'echo "db {{secrets.db_password}}" >&2',
            'printf %s "{{secrets.API_TOKEN}}" | sha256sum',
            'printf %s "{{secrets.db_password}}" | sha256sum',
            'printf %s "{{secrets.tls_key}}" | sha256sum',
            'echo "variable: $OCR_SECRET_API_TOKEN"',
            'echo "not referenced: ${OCR_SECRET_UNUSED:-absent}"',
            'mkdir -p out',
            'printf "%s\\n%s\\n" "{{secrets.API_TOKEN}}" "{{secrets.tls_key}}" > out/leak.txt',
          ].join('\n'),
          artifacts: [{ path: 'out/leak.txt', kind: 'text' }],
        },
        {
          name: 'call',
          kind: 'http',
          url: `${echo.url}/echo?k={{secrets.API_TOKEN}}`,
          headers: { 'x-token': '{{secrets.API_TOKEN}}' },
        },
        { name: 'box', kind: 'docker', image: TEST_IMAGE, command: ['echo', '{{secrets.API_TOKEN}}'] },
        {
          name: 'fail',
          kind: 'shell',
          script: 'echo "failing with {{secrets.db_password}}" >&2; exit 3',
        },
      ],
    });
    // The API has no secret values: its preview shows the placeholders the way the worker's output will.
    const preview = await stack.client.templates.preview('uses-worker-secrets', {});
    t.match(preview.steps, [
      { script: /printf %s "\$\{OCR_SECRET_API_TOKEN\}" \| sha256sum/ },
      { headers: { 'x-token': '••••' } },
      { command: ['echo', '••••'] },
    ]);
    await stack.client.templates.create({
      name: 'needs-absent-secret',
      steps: [{ name: 's', kind: 'shell', script: 'echo {{secrets.NOT_ON_THIS_WORKER}}' }],
    });

    const { worker, logged, config } = await loggingWorker(stack, {
      OCR_WORKER_ID: 'worker-secrets',
      OCR_HTTP_ALLOW_PRIVATE: 'true',
      OCR_SECRET_API_TOKEN: TOKEN,
      OCR_SECRET_UNUSED: 'unused-secret-value-77',
      OCR_SECRETS_DIR: dir,
      // The template has a docker step: only a worker that declares docker runs one.
      OCR_DOCKER_STEPS: 'true',
    });
    t.notOk(JSON.stringify(config).includes(TOKEN), 'a printed config does not show the secret');
    const finishedRuns = new Map<string, () => void>();
    worker.on('run.finished', (id: string) => finishedRuns.get(id)?.());
    worker.start();
    t.teardown(() => worker.drain(2000));

    const messages: string[] = [];
    const stream = new Stream({
      baseUrl: stack.apiUrl,
      token: stack.adminToken,
      webSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
    });
    t.teardown(() => stream.close());
    stream.subscribe('runs', (payload) => messages.push(JSON.stringify(payload)));

    const answers: string[] = [JSON.stringify(preview)];
    const runToEnd = async (template: string) => {
      const created = await stack.client.runs.create({ template, params: {} });
      answers.push(JSON.stringify(created));
      const id = created.run.id;
      const ended = new Promise<void>((resolve) => finishedRuns.set(id, resolve));
      const streamed: string[] = [];
      stream.subscribeRun(id, 0, (event) => streamed.push(JSON.stringify(event)));
      await ended;
      const detail = await stack.client.runs.get(id);
      const { events } = await stack.client.runs.events(id, { limit: 5000 });
      // The stream has delivered everything once it has as many events as the API holds.
      for (let i = 0; i < 200 && streamed.length < events.length; i++)
        await new Promise((r) => setTimeout(r, 25));
      t.equal(streamed.length, events.length, `${template}: every event came over the stream`);
      messages.push(...streamed);
      answers.push(JSON.stringify(detail), JSON.stringify(events));
      answers.push(await (await stack.client.runs.export(id, 'json')).text());
      answers.push(await (await stack.client.runs.export(id, 'markdown')).text());
      const { artifacts } = await stack.client.runs.artifacts(id);
      const contents: Record<string, string> = {};
      for (const artifact of artifacts) {
        contents[artifact.name] = await (await stack.client.artifacts.content(artifact.id)).text();
        answers.push(contents[artifact.name]!, JSON.stringify(artifact));
      }
      return { detail, events, contents };
    };

    const first = await runToEnd('uses-worker-secrets');
    t.equal(first.detail.run.status, 'error', 'the run ran every step and failed as written');
    t.match(first.detail.run.error, { code: 'exit_code', details: { step: 'fail' } });
    const lines = first.events.filter((e) => e.type === 'log').map((e) => e.message);
    // The values did reach the steps: their hashes are printed, and the http server received the token.
    t.ok(
      lines.some((l) => l.startsWith(sha256(TOKEN))),
      'the shell step had the env secret',
    );
    t.ok(
      lines.some((l) => l.startsWith(sha256(DB_PASSWORD))),
      'and the file secret, without its newline',
    );
    t.ok(
      lines.some((l) => l.startsWith(sha256(KEY))),
      'and the multi-line file secret',
    );
    t.ok(lines.includes('not referenced: absent'), 'a secret the step does not reference is not in its env');
    t.ok(lines.includes('token is ••••'), 'stdout masked');
    t.ok(lines.includes('db ••••'), 'stderr masked');
    t.ok(lines.includes('variable: ••••'), 'the variable a placeholder becomes is masked when printed');
    t.ok(lines.includes('failing with ••••'));
    t.same(
      echo.received.map((r) => JSON.parse(r) as unknown),
      [{ url: `/echo?k=${encodeURIComponent(TOKEN)}`, token: TOKEN }],
      'the http step sent the real value (URL-encoded in the query, as is in the header)',
    );
    t.ok(
      first.events.some((e) => e.step === 'box' && e.type === 'log' && e.message === '••••'),
      'docker output masked',
    );
    t.match(first.contents['out/leak.txt'], /^••••\n/, 'a file artifact is masked');
    t.notOk(first.contents['out/leak.txt']!.includes('line-one'), 'every line of a multi-line secret is');
    t.ok(
      Object.keys(first.contents).some((n) => n.endsWith('.response.json')),
      'the http record was stored (and searched)',
    );

    // A rotated file is read by the next run, without a restart.
    await writeFile(join(dir, 'db_password'), `${DB_PASSWORD_ROTATED}\n`);
    const rotated = await runToEnd('uses-worker-secrets');
    t.ok(
      rotated.events.some((e) => e.type === 'log' && e.message.startsWith(sha256(DB_PASSWORD_ROTATED))),
      'the rotated value is used by the next run',
    );

    const absent = await runToEnd('needs-absent-secret');
    t.match(absent.detail.run, {
      status: 'error',
      error: { code: 'secret_missing', message: /NOT_ON_THIS_WORKER/ },
    });

    // Nor is any value stored: every row of every table, as text.
    const { rows: tables } = await stack.db.pool.query<{ name: string }>(
      "SELECT quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    );
    const stored: string[] = [];
    for (const { name } of tables) {
      const { rows } = await stack.db.pool.query<{ row: string }>(`SELECT t::text AS row FROM ${name} t`);
      stored.push(...rows.map((r) => r.row));
    }
    t.ok(stored.length > 10, `${stored.length} database rows searched`);

    const everything = [...answers, ...messages, ...logged, ...stored].join('\n');
    t.ok(everything.length > 5000, `${everything.length} characters searched`);
    for (const value of [...values, 'unused-secret-value-77', encodeURIComponent(TOKEN)])
      t.notOk(everything.includes(value), `${value.slice(0, 24)}… appears nowhere`);
    t.ok(logged.length > 0, 'the worker logged');
  },
);
