import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { procStat } from '../../src/executors/process-group.js';
import { shellExecutor } from '../../src/executors/shell.js';
import { createTestStepContext, isLine } from '../fixtures/step-context.js';

/** Running (a zombie waiting to be reaped by init runs nothing, so it counts as gone). */
function alive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

t.test('stdout and stderr are line events with the stream named, partial last line flushed', async (t) => {
  const { ctx, events } = createTestStepContext(t);
  const result = await shellExecutor.run(
    { name: 's', kind: 'shell', script: 'echo out1; echo err1 >&2; printf "tail-no-newline"' },
    ctx,
  );
  t.same(result, { status: 'success', output: { exit_code: 0, output_bytes: 25, output_truncated: false } });
  const logs = events.filter((e) => e.type === 'log').map((e) => [e.data?.stream, e.message]);
  t.same(
    logs.find((l) => l[1] === 'out1'),
    ['stdout', 'out1'],
  );
  t.same(
    logs.find((l) => l[1] === 'err1'),
    ['stderr', 'err1'],
  );
  t.same(
    logs.find((l) => l[1] === 'tail-no-newline'),
    ['stdout', 'tail-no-newline'],
  );
});

t.test('a non-zero exit fails with the exit code', async (t) => {
  const { ctx } = createTestStepContext(t);
  const result = await shellExecutor.run({ name: 's', kind: 'shell', script: 'echo bye; exit 7' }, ctx);
  t.same(result, { status: 'failed', code: 'exit_code', message: 'exit code 7', exitCode: 7 });
});

t.test(
  'runs in the run directory with a clean environment: params as OCR_PARAM_*, no worker secrets',
  async (t) => {
    process.env.OCR_TOKEN_FOR_TEST = 'worker-secret';
    t.teardown(() => delete process.env.OCR_TOKEN_FOR_TEST);
    const { ctx, lines } = createTestStepContext(t, {
      params: { 'deploy-env': 'staging', count: 3 },
      env: { EXTRA: 'x' },
    });
    const ok = await shellExecutor.run(
      {
        name: 's',
        kind: 'shell',
        script:
          'pwd; echo "$OCR_PARAM_DEPLOY_ENV $OCR_PARAM_COUNT $EXTRA $MINE"; echo "secret=${OCR_TOKEN_FOR_TEST:-none}"',
        env: { MINE: 'v-{{params.count}}' },
      },
      ctx,
    );
    t.equal(ok.status, 'success');
    t.same(lines().slice(-3), [ctx.workdir, 'staging 3 x v-3', 'secret=none']);
  },
);

t.test('bash when asked', async (t) => {
  const { ctx, lines } = createTestStepContext(t);
  const result = await shellExecutor.run(
    { name: 's', kind: 'shell', shell: 'bash', script: 'echo "${BASH_VERSION:+bash}"' },
    ctx,
  );
  t.equal(result.status, 'success');
  t.same(lines(), ['bash']);
});

t.test('a background child left behind is killed when the script ends: no orphan', async (t) => {
  const { ctx, events } = createTestStepContext(t);
  const pidFile = join(ctx.workdir, 'child.pid');
  const result = await shellExecutor.run(
    { name: 's', kind: 'shell', script: `sleep 1000 >/dev/null 2>&1 & echo $! > ${pidFile}; echo started` },
    ctx,
  );
  t.equal(result.status, 'success');
  const pid = Number(readFileSync(pidFile, 'utf8'));
  t.ok(pid > 0);
  t.notOk(alive(pid), 'the background sleep is gone');
  t.ok(events.some((e) => e.type === 'process.leftovers_killed'));
});

t.test('cancel kills the whole tree (SIGTERM), with a signalled stage event', async (t) => {
  const { ctx, controller, waitForEvent, events } = createTestStepContext(t);
  const pidFile = join(ctx.workdir, 'child.pid');
  const running = shellExecutor.run(
    { name: 's', kind: 'shell', script: `sleep 1000 & echo $! > ${pidFile}; echo ready; wait` },
    ctx,
  );
  await waitForEvent(isLine('ready'));
  const pid = Number(readFileSync(pidFile, 'utf8'));
  t.ok(alive(pid));
  const started = Date.now();
  controller.abort();
  const result = await running;
  t.equal(result.status, 'cancelled');
  t.ok(Date.now() - started < 2000, 'stopped promptly');
  t.notOk(alive(pid), 'the background sleep is gone');
  const stages = events.filter((e) => e.type.startsWith('cancel.')).map((e) => e.type);
  t.same(stages, ['cancel.signalled'], 'SIGTERM was enough: no kill stage');
});

t.test('a tree that ignores SIGTERM is SIGKILLed after the grace, with a killed stage event', async (t) => {
  const { ctx, controller, waitForEvent, events } = createTestStepContext(t, { killGraceMs: 200 });
  const pidFile = join(ctx.workdir, 'child.pid');
  const running = shellExecutor.run(
    {
      name: 's',
      kind: 'shell',
      script: `trap '' TERM; sleep 1000 >/dev/null 2>&1 & echo $! > ${pidFile}; echo ready; wait`,
    },
    ctx,
  );
  await waitForEvent(isLine('ready'));
  const pid = Number(readFileSync(pidFile, 'utf8'));
  const started = Date.now();
  controller.abort();
  const result = await running;
  const took = Date.now() - started;
  t.equal(result.status, 'cancelled');
  t.ok(took >= 180 && took < 2000, `waited the grace, then killed (${took} ms)`);
  t.notOk(alive(pid), 'the child that ignored SIGTERM is gone');
  t.same(
    events.filter((e) => e.type.startsWith('cancel.')).map((e) => [e.type, e.data?.signal]),
    [
      ['cancel.signalled', 'SIGTERM'],
      ['cancel.killed', 'SIGKILL'],
    ],
  );
});

t.test('the step timeout stops it and reports timeout', async (t) => {
  const { ctx, events } = createTestStepContext(t, { timeoutMs: 300 });
  const result = await shellExecutor.run({ name: 's', kind: 'shell', script: 'echo ready; sleep 1000' }, ctx);
  t.same(result, { status: 'timeout', timeoutMs: 300, message: 'step exceeded its timeout of 300 ms' });
  t.equal(events.find((e) => e.type === 'cancel.signalled')?.data?.reason, 'timeout');
});

t.test('an already cancelled run starts nothing', async (t) => {
  const { ctx, controller } = createTestStepContext(t);
  const marker = join(ctx.workdir, 'ran');
  controller.abort();
  const result = await shellExecutor.run({ name: 's', kind: 'shell', script: `touch ${marker}` }, ctx);
  t.equal(result.status, 'cancelled');
  t.notOk(existsSync(marker));
});

t.test('a bad step is refused with the field named', async (t) => {
  const { ctx } = createTestStepContext(t);
  const result = await shellExecutor.run({ name: 's', kind: 'shell', script: 'true', shel: 'bash' }, ctx);
  t.match(result, { status: 'failed', code: 'invalid_step', message: /shel: unknown field/ });
  const missing = await shellExecutor.run({ name: 's', kind: 'shell' }, ctx);
  t.match(missing, { status: 'failed', code: 'invalid_step', message: /script/ });
});

t.test('a placeholder naming a missing param fails instead of rendering empty', async (t) => {
  const { ctx } = createTestStepContext(t);
  const target = join(ctx.workdir, 'keep');
  const result = await shellExecutor.run(
    { name: 's', kind: 'shell', script: `rm -rf ${target}{{params.dir}}` },
    ctx,
  );
  t.match(result, { status: 'failed', code: 'param_missing', message: /params\.dir/ });
});

t.test('a very long line is split into pieces, none lost', async (t) => {
  const { ctx, events } = createTestStepContext(t, { output: { maxLineBytes: 1000 } });
  const result = await shellExecutor.run(
    { name: 's', kind: 'shell', script: `head -c 2500 /dev/zero | tr '\\0' 'x'; echo; echo after` },
    ctx,
  );
  t.equal(result.status, 'success');
  const logs = events.filter((e) => e.type === 'log');
  t.same(
    logs.map((e) => [e.message.length, e.data?.continues ?? false]),
    [
      [1000, true],
      [1000, true],
      [500, false],
      [5, false],
    ],
  );
  rmSync(join(ctx.workdir, 'x'), { force: true });
});
