// Job mode (`ocr worker --max-runs N --exit-when-idle S`), with real worker processes against a real API.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startStack } from '@ocr/testkit';
import { eventually, spawnOcr } from '@ocr/testkit';

const OCR = fileURLToPath(new URL('../../packages/cli/bin/ocr.js', import.meta.url));
const FAST = {
  OCR_HEARTBEAT_INTERVAL_S: '0.5',
  OCR_HEARTBEAT_TIMEOUT_S: '5',
  OCR_KILL_GRACE_S: '0.5',
  OCR_EVENT_FLUSH_MS: '50',
};

type Stack = Awaited<ReturnType<typeof startStack>>;

/** Did `workerId` claim the run (its `claimed` event names the worker)? */
async function claimedBy(stack: Stack, runId: string, workerId: string): Promise<boolean> {
  const { events } = await stack.client.runs.events(runId);
  return events.some((e) => e.type === 'claimed' && e.message.includes(workerId));
}

async function workerEnv(stack: Stack, id: string): Promise<Record<string, string>> {
  const { token } = await stack.tokenFor('worker');
  return {
    ...stack.env,
    ...FAST,
    OCR_TOKEN: token,
    OCR_LANES: 'A',
    PORT: '0',
    OCR_WORKER_ID: id,
    OCR_CLAIM_WAIT_MS: '20000',
  };
}

t.test(
  '--max-runs N: claims exactly N runs in total, finishes them, exits 0, leaves the rest queued',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await stack.client.templates.create({
      name: 'quick',
      steps: [{ name: 'work', kind: 'shell', script: 'sleep 0.3; echo done' }],
    });
    const runs = await Promise.all(
      Array.from({ length: 5 }, () => stack.client.runs.create({ template: 'quick' })),
    );
    const worker = spawnOcr(t, 'worker', { ...(await workerEnv(stack, 'job-3')), OCR_CONCURRENCY: '2' }, [
      '--max-runs',
      '3',
    ]);
    t.equal(await worker.exited, 0, 'exit 0 once the quota is done');
    const done = await worker.waitForLog((l) => l.msg === 'job mode: done, exiting');
    t.equal(done.reason, 'max_runs');
    const after = await Promise.all(runs.map(async ({ run }) => (await stack.client.runs.get(run.id)).run));
    const byStatus = (s: string) => after.filter((r) => r.status === s);
    t.equal(byStatus('success').length, 3, 'three runs finished');
    t.ok(
      byStatus('success').every((r) => r.attempt === 1),
      'first attempt',
    );
    for (const r of byStatus('success'))
      t.ok(await claimedBy(stack, r.id, 'job-3'), `${r.id} claimed by this worker`);
    t.equal(byStatus('queued').length, 2, 'the other two were never claimed');
    t.ok(
      byStatus('queued').every((r) => r.attempt === 0),
      'no attempt spent on them',
    );
  },
);

t.test('OCR_MAX_RUNS=1 from the environment: one run per process (a ScaledJob pod)', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create({
    name: 'quick',
    steps: [{ name: 'work', kind: 'shell', script: 'echo one' }],
  });
  const env = { ...(await workerEnv(stack, 'pod-1')), OCR_MAX_RUNS: '1', OCR_CONCURRENCY: '4' };
  const worker = spawnOcr(t, 'worker', env);
  await worker.waitForLog((l) => l.msg === 'worker started');
  const { run: first } = await stack.client.runs.create({ template: 'quick' });
  const { run: second } = await stack.client.runs.create({ template: 'quick' });
  t.equal(await worker.exited, 0);
  const statuses = [
    (await stack.client.runs.get(first.id)).run.status,
    (await stack.client.runs.get(second.id)).run.status,
  ].sort();
  t.same(statuses, ['queued', 'success'], 'one run done, the other left for the next pod');
});

t.test(
  '--exit-when-idle S: exits 0 after S seconds with nothing to do, never while a run is in progress',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await stack.client.templates.create({
      name: 'slow',
      steps: [{ name: 'work', kind: 'shell', script: 'echo start; sleep 2.5; echo end' }],
    });

    const idle = spawnOcr(t, 'worker', await workerEnv(stack, 'idle-only'), ['--exit-when-idle', '1']);
    const started = await idle.waitForLog((l) => l.msg === 'worker started');
    t.equal(await idle.exited, 0, 'an idle worker exits 0');
    const done = await idle.waitForLog((l) => l.msg === 'job mode: done, exiting');
    t.equal(done.reason, 'idle');
    const idleMs = Date.parse(done.time as string) - Date.parse(started.time as string);
    t.ok(
      idleMs >= 1000 && idleMs < 4000,
      `exited ${idleMs} ms after start (idle limit 1 s; the claim long-poll is 20 s)`,
    );

    const busy = spawnOcr(t, 'worker', await workerEnv(stack, 'busy-then-idle'), ['--exit-when-idle', '1']);
    await busy.waitForLog((l) => l.msg === 'worker started');
    const { run } = await stack.client.runs.create({ template: 'slow' });
    const finished = await eventually(async () => {
      const { run: r } = await stack.client.runs.get(run.id);
      return r.status === 'success' ? r : undefined;
    });
    t.ok(
      await claimedBy(stack, run.id, 'busy-then-idle'),
      'a run longer than the idle limit ran to the end on the idle-limited worker',
    );
    t.equal(finished.attempt, 1, 'in one attempt');
    t.equal(await busy.exited, 0);
    const busyDone = await busy.waitForLog((l) => l.msg === 'job mode: done, exiting');
    t.equal(busyDone.reason, 'idle');
    t.ok(
      Date.parse(busyDone.time as string) >= Date.parse(finished.finished_at!) + 900,
      'the idle clock started when the run finished',
    );
  },
);

t.test('bad job-mode values stop the process at start with one line naming the variable', async (t) => {
  const base = { ...process.env, OCR_API_URL: 'http://127.0.0.1:9', OCR_TOKEN: 'x', PORT: '0' };
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--max-runs', '-1'], {}, /^ocr: config: OCR_MAX_RUNS: .*/m],
    [['--max-runs', 'two'], {}, /^ocr: config: OCR_MAX_RUNS: .*/m],
    [['--exit-when-idle', 'soon'], {}, /^ocr: config: OCR_EXIT_WHEN_IDLE_S: .*/m],
    [[], { OCR_EXIT_WHEN_IDLE_S: '-5' }, /^ocr: config: OCR_EXIT_WHEN_IDLE_S: .*/m],
  ];
  for (const [args, env, expected] of cases) {
    const result = spawnSync(process.execPath, [OCR, 'worker', ...args], {
      env: { ...base, ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
    t.equal(result.status, 1, `${args.join(' ') || JSON.stringify(env)}: exit 1`);
    t.match(result.stderr, expected);
    t.equal(result.stderr.trim().split('\n').length, 1, 'one line');
  }
});
