/**
 * The run's scratch directory is made only for a step that may use it, and removed however the run ends:
 * a noop-only run makes none (watched with inotify, not inferred from an empty directory afterwards); a
 * shell step runs inside its own, removed after success, failure, cancel, step timeout and run timeout.
 */
import t from 'tap';
import { watch } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '@ocr/testkit';
import { createExecutorRegistry } from '../src/executors/index.js';
import { finished, startTestWorker } from './helpers.js';

/** A fresh OCR_WORK_DIR, and every name created in it meanwhile (inotify: even one made and removed). */
async function watchedWorkDir(t: {
  teardown(fn: () => Promise<void>): void;
}): Promise<{ dir: string; created: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'ocr-workdir-test-'));
  const created: string[] = [];
  const watcher = watch(dir, (event, name) => {
    if (event === 'rename' && name) created.push(name);
  });
  t.teardown(async () => {
    watcher.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, created };
}

/** Wait until a run's events include a log line with this text. */
async function lineSeen(stack: Awaited<ReturnType<typeof startStack>>, runId: string, text: string) {
  for (;;) {
    const { events } = await stack.client.runs.events(runId, { limit: 1000 });
    const hit = events.find((e) => e.type === 'log' && e.message.includes(text));
    if (hit) return hit.message;
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('a noop-only run makes no directory at all', async (t) => {
  const stack = await startStack(t, { s3: false });
  const { dir, created } = await watchedWorkDir(t);
  await stack.client.templates.create({
    name: 'noops',
    steps: [
      { name: 'a', kind: 'noop' },
      { name: 'b', kind: 'noop', timeout_s: 5 },
    ],
  });
  const worker = await startTestWorker(t, stack, { OCR_WORK_DIR: dir });
  for (let i = 0; i < 5; i++) {
    const { run } = await stack.client.runs.create({ template: 'noops' });
    t.equal(await finished(worker, run.id), 'success');
    t.match((await stack.client.runs.get(run.id)).steps, [
      { name: 'a', status: 'success' },
      { name: 'b', status: 'success' },
    ]);
  }
  // A shell run afterwards proves the watch sees what a run makes (and the worker uses this directory).
  await stack.client.templates.create({ name: 'sh', steps: [{ name: 's', kind: 'shell', script: 'pwd' }] });
  const { run } = await stack.client.runs.create({ template: 'sh' });
  t.equal(await finished(worker, run.id), 'success');
  // inotify reports a name made and a name removed alike ('rename'): count names, not reports.
  t.equal(new Set(created.filter((n) => n.startsWith('ocr-run-'))).size, 1, 'only the shell run made one');
  t.same(await readdir(dir), [], 'and it was removed');
});

t.test('a shell step gets its directory; removed after success, failure, cancel and timeouts', async (t) => {
  const stack = await startStack(t, { s3: false });
  const { dir, created } = await watchedWorkDir(t);
  const script = (tail: string) => `echo "cwd=$(pwd)"; touch inside; ${tail}`;
  await stack.client.templates.create({
    name: 'cases',
    params_schema: { type: 'object', properties: { tail: { type: 'string' } } },
    steps: [
      { name: 'first', kind: 'noop' },
      { name: 'sh', kind: 'shell', script: script('eval "$OCR_PARAM_TAIL"'), timeout_s: 2 },
    ],
  });
  await stack.client.templates.create({
    name: 'run-timeout',
    timeout_s: 2,
    steps: [{ name: 'sh', kind: 'shell', script: script('sleep 30') }],
  });
  const worker = await startTestWorker(t, stack, { OCR_WORK_DIR: dir });
  const cases: {
    name: string;
    template: string;
    tail?: string;
    status: string;
    code?: string;
    cancel?: boolean;
  }[] = [
    { name: 'success', template: 'cases', tail: 'true', status: 'success' },
    { name: 'failure', template: 'cases', tail: 'exit 3', status: 'error', code: 'exit_code' },
    { name: 'cancel', template: 'cases', tail: 'echo ready; sleep 30', status: 'cancelled', cancel: true },
    { name: 'step timeout', template: 'cases', tail: 'sleep 30', status: 'error', code: 'step_timeout' },
    { name: 'run timeout', template: 'run-timeout', status: 'error', code: 'run_timeout' },
  ];
  for (const c of cases) {
    const before = new Set(created).size;
    const { run } = await stack.client.runs.create({
      template: c.template,
      ...(c.tail ? { params: { tail: c.tail } } : {}),
    });
    const end = finished(worker, run.id);
    const cwd = (await lineSeen(stack, run.id, 'cwd=')).slice('cwd='.length);
    t.ok(cwd.startsWith(join(dir, 'ocr-run-')), `${c.name}: the step ran in the run's directory (${cwd})`);
    if (c.cancel) {
      await lineSeen(stack, run.id, 'ready');
      await stack.client.runs.cancel(run.id);
    }
    await end;
    const detail = await stack.client.runs.get(run.id);
    t.equal(detail.run.status, c.status, `${c.name}: ${c.status}`);
    if (c.code) t.equal(detail.run.error?.code, c.code);
    t.same(await readdir(dir), [], `${c.name}: the directory is gone`);
    t.equal(new Set(created).size - before, 1, `${c.name}: one was made`);
  }
});

t.test('which steps need the directory: by kind, and any step that declares artifact files', async (t) => {
  const registry = createExecutorRegistry();
  t.equal(registry.usesWorkdir({ kind: 'noop' }), false);
  t.equal(registry.usesWorkdir({ kind: 'http', url: 'https://example.com' }), false);
  t.equal(registry.usesWorkdir({ kind: 'noop', artifacts: [] }), false);
  t.equal(registry.usesWorkdir({ kind: 'noop', artifacts: [{ path: 'a.txt', kind: 'text' }] }), true);
  for (const kind of ['shell', 'docker', 'mcp', 'spec-kit.generate', 'spec-kit.validate'])
    t.equal(registry.usesWorkdir({ kind }), true, kind);
  t.equal(registry.usesWorkdir({ kind: 'no-such-kind' }), false, 'an unknown kind fails without one');
});
