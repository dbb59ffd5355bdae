import t from 'tap';
import { existsSync } from 'node:fs';
import { startStack } from '@ocr/testkit';
import { finished, isRunning, startTestWorker } from './helpers.js';

t.test('a shell run streams its output in order, uploads its artifact, and succeeds', async (t) => {
  const stack = await startStack(t);
  await stack.client.templates.create({
    name: 'lines',
    params_schema: { type: 'object', properties: { n: { type: 'integer' } } },
    steps: [
      {
        name: 'count',
        kind: 'shell',
        script:
          'i=1; while [ $i -le $OCR_PARAM_N ]; do echo "line $i"; i=$((i+1)); done; echo oops >&2; mkdir -p out; printf "# hi\\n" > out/r.md; head -c 300000 /dev/urandom > out/blob.bin',
        artifacts: [
          { path: 'out/r.md', kind: 'markdown' },
          { path: 'out/blob.bin', kind: 'file' },
        ],
      },
    ],
  });
  const worker = await startTestWorker(t, stack);
  const { run } = await stack.client.runs.create({ template: 'lines', params: { n: 500 } });
  t.equal(await finished(worker, run.id), 'success');
  const detail = await stack.client.runs.get(run.id);
  t.equal(detail.run.status, 'success');
  t.match(detail.steps, [{ name: 'count', status: 'success', exit_code: 0 }]);
  const { events } = await stack.client.runs.events(run.id, { limit: 5000 });
  const lines = events
    .filter((e) => e.type === 'log' && (e.data as { stream: string }).stream === 'stdout')
    .map((e) => e.message);
  t.same(
    lines,
    Array.from({ length: 500 }, (_, i) => `line ${i + 1}`),
    'every line, in order, once',
  );
  t.ok(
    events.some(
      (e) => e.type === 'log' && e.message === 'oops' && (e.data as { stream: string }).stream === 'stderr',
    ),
    'stderr named',
  );
  const { artifacts } = await stack.client.runs.artifacts(run.id);
  t.equal(artifacts.length, 2);
  const md = artifacts.find((a) => a.kind === 'markdown')!;
  t.equal(await (await stack.client.artifacts.content(md.id)).text(), '# hi\n');
  const blob = artifacts.find((a) => a.kind === 'file')!;
  t.equal(blob.status, 'ready');
  t.equal(blob.size, 300000);
  const { download_url } = await stack.client.artifacts.get(blob.id);
  const body = Buffer.from(await (await fetch(download_url!)).arrayBuffer());
  const { createHash } = await import('node:crypto');
  t.equal(createHash('sha256').update(body).digest('hex'), blob.sha256, 'byte for byte through S3');
});

t.test('a failing step fails the run with its exit code; retries per policy', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create({
    name: 'fail',
    retry: { max_attempts: 2, backoff: { initial_s: 0, factor: 1, max_s: 0 } },
    steps: [{ name: 'boom', kind: 'shell', script: 'echo before; exit 3' }],
  });
  const worker = await startTestWorker(t, stack);
  const { run } = await stack.client.runs.create({ template: 'fail' });
  await finished(worker, run.id);
  await finished(worker, run.id);
  const detail = await stack.client.runs.get(run.id);
  t.equal(detail.run.status, 'error');
  t.equal(detail.run.attempt, 2);
  t.match(detail.run.error, {
    code: 'exit_code',
    message: 'exit code 3',
    details: { step: 'boom', exit_code: 3 },
  });
});

t.test('params never become shell syntax', async (t) => {
  const stack = await startStack(t, { s3: false });
  const marker = `/tmp/ocr-pwned-${process.pid}-${Date.now()}`;
  await stack.client.templates.create({
    name: 'inject',
    params_schema: { type: 'object', properties: { x: { type: 'string' } } },
    steps: [{ name: 's', kind: 'shell', script: 'echo {{params.x}}; echo "$OCR_PARAM_X"' }],
  });
  const worker = await startTestWorker(t, stack);
  const evil = `$(touch ${marker}); \`touch ${marker}\` "'; touch ${marker}`;
  const { run } = await stack.client.runs.create({ template: 'inject', params: { x: evil } });
  t.equal(await finished(worker, run.id), 'success');
  t.notOk(existsSync(marker), 'nothing executed');
  const { events } = await stack.client.runs.events(run.id);
  t.same(
    events.filter((e) => e.type === 'log').map((e) => e.message),
    [evil, evil],
    'printed verbatim',
  );
});

t.test(
  'cancel stops the whole process tree and the run ends cancelled, with each stage on the timeline',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    const pidFile = `/tmp/ocr-bg-${process.pid}-${Date.now()}`;
    await stack.client.templates.create({
      name: 'slow',
      steps: [
        {
          name: 'wait',
          kind: 'shell',
          script: `trap '' TERM; sleep 1000 & echo $! > ${pidFile}; echo started; wait`,
        },
      ],
    });
    const worker = await startTestWorker(t, stack);
    const { run } = await stack.client.runs.create({ template: 'slow' });
    for (;;) {
      const { events } = await stack.client.runs.events(run.id);
      if (events.some((e) => e.message === 'started')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await stack.client.runs.cancel(run.id);
    t.equal(await finished(worker, run.id), 'cancelled');
    const { events } = await stack.client.runs.events(run.id);
    const types = events.map((e) => e.type);
    for (const stage of [
      'cancel.requested',
      'cancel.acknowledged',
      'cancel.signalled',
      'cancel.killed',
      'cancel.confirmed',
    ])
      t.ok(types.includes(stage), stage);
    const bg = Number((await import('node:fs')).readFileSync(pidFile, 'utf8'));
    t.notOk(isRunning(bg), 'the backgrounded child is gone (no orphan)');
    t.equal((await stack.client.runs.get(run.id)).run.status, 'cancelled');
  },
);

t.test('step timeout fails the run with step_timeout', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create({
    name: 'hang',
    steps: [{ name: 'h', kind: 'shell', script: 'sleep 30', timeout_s: 1 }],
  });
  const worker = await startTestWorker(t, stack);
  const { run } = await stack.client.runs.create({ template: 'hang' });
  await finished(worker, run.id);
  t.match((await stack.client.runs.get(run.id)).run, { status: 'error', error: { code: 'step_timeout' } });
});

t.test('a busy worker claims and completes in batches, not one request per run', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create({ name: 'nothing', steps: [{ name: 'noop', kind: 'noop' }] });
  await stack.client.runs.createBatch(Array.from({ length: 300 }, () => ({ template: 'nothing' })));
  const worker = await startTestWorker(t, stack, { OCR_CONCURRENCY: '100', OCR_CLAIM_BATCH: '100' });
  let done = 0;
  await new Promise<void>((resolve) => worker.on('run.finished', () => ++done === 300 && resolve()));
  const { rows } = await stack.db.pool.query(`SELECT status, count(*)::int AS n FROM runs GROUP BY status`);
  t.same(rows, [{ status: 'success', n: 300 }], 'every run succeeded');
  const metrics = await (
    await fetch(`${stack.apiUrl}/metrics`, { headers: { authorization: `Bearer ${stack.adminToken}` } })
  ).text();
  const requests = (route: string) =>
    metrics
      .split('\n')
      .filter((line) => line.startsWith('ocr_http_requests_total') && line.includes(`route="${route}"`))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  const completions = requests('/v1/runs/complete');
  const claims = requests('/v1/runs/claim');
  t.ok(completions > 0 && completions <= 60, `300 completions in ${completions} requests`);
  t.ok(claims > 0 && claims <= 60, `300 runs claimed in ${claims} requests`);
});
