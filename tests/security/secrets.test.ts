/**
 * A param the template marks secret (`writeOnly`, `format: password`) is found nowhere a viewer can look:
 * not in any API answer about the run (get, list, search, export as JSON and Markdown), not in a WebSocket
 * message (the runs topic and the run's own events), not in its events (output lines, step messages),
 * artifacts (in-memory and file), the run's error or output, nor in the worker's log — although the step
 * printed it to stdout and stderr, wrote it to an artifact, returned it and failed with it.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import WebSocket from 'ws';
import { Stream, type WebSocketLike } from '@ocr/client';
import { startStack } from '@ocr/testkit';
import { createClientProtocol, loadWorkerConfig, Worker } from '@ocr/worker';

const SECRET = 'hunter2-Sup3rS3cret-value';

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
      OCR_WORKER_ID: 'secret-worker',
    });
    const worker = new Worker({
      api: createClientProtocol({ baseUrl: stack.apiUrl, token }),
      config,
      log: pino({ level: 'trace' }, sink),
    });

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
