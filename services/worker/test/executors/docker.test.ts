/**
 * The docker executor against the real engine and an image made with `docker import` (no registry).
 * Without an engine these tests fail with a message saying how to start one; they never skip.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { CONTAINER_LABELS, createDockerExecutor } from '../../src/executors/docker.js';
import { ensureTestImage, TEST_IMAGE } from '@ocr/testkit/docker-image';
import { createTestStepContext, isLine } from '../fixtures/step-context.js';

const docker = await ensureTestImage();
const executor = createDockerExecutor({ docker });

/** Containers of a run, running or not. */
async function containersOf(runId: string) {
  return docker.listContainers({ all: true, filters: { label: [`${CONTAINER_LABELS.runId}=${runId}`] } });
}

function runId(): string {
  return `00000000-0000-4000-8000-${Math.random().toString(16).slice(2, 14).padEnd(12, '0')}`;
}

t.test('no engine: a clear typed failure naming the socket', async (t) => {
  const { ctx } = createTestStepContext(t);
  const result = await createDockerExecutor({ socketPath: '/tmp/ocr-no-docker.sock' }).run(
    { name: 'd', kind: 'docker', image: TEST_IMAGE },
    ctx,
  );
  t.match(result, {
    status: 'failed',
    code: 'docker_unavailable',
    message: /^docker engine unavailable at \/tmp\/ocr-no-docker\.sock/,
  });
});

t.test('DOCKER_HOST picks the engine when no socket is given (the Docker-in-Docker sidecar)', async (t) => {
  const saved = process.env.DOCKER_HOST;
  t.teardown(() =>
    saved === undefined ? delete process.env.DOCKER_HOST : (process.env.DOCKER_HOST = saved),
  );
  process.env.DOCKER_HOST = 'unix:///tmp/ocr-dind-missing.sock';
  const missing = await createDockerExecutor().run(
    { name: 'd', kind: 'docker', image: TEST_IMAGE },
    createTestStepContext(t).ctx,
  );
  t.match(
    missing,
    { status: 'failed', code: 'docker_unavailable', message: /ocr-dind-missing\.sock/ },
    'the variable is honoured',
  );
  process.env.DOCKER_HOST = 'unix:///var/run/docker.sock';
  const { ctx, lines } = createTestStepContext(t);
  const ran = await createDockerExecutor().run(
    { name: 'd', kind: 'docker', image: TEST_IMAGE, command: ['echo', 'via DOCKER_HOST'] },
    ctx,
  );
  t.equal(ran.status, 'success');
  t.same(lines(), ['via DOCKER_HOST']);
});

t.test('output demultiplexed per stream; labels, limits and network none; removed afterwards', async (t) => {
  const id = runId();
  const { ctx, events, waitForEvent, lines } = createTestStepContext(t, {
    runId: id,
    attempt: 2,
    stepName: 'in box',
  });
  const running = executor.run(
    {
      name: 'in box',
      kind: 'docker',
      image: TEST_IMAGE,
      command: [
        'sh',
        '-c',
        'echo out-1; echo err-1 >&2; echo "$OCR_RUN_ID $OCR_ATTEMPT $OCR_STEP"; ls /sys/class/net; echo ready; read -t 30 x <&0 || true; sleep 1; echo done',
      ],
      memory_mb: 64,
      cpus: 0.5,
    },
    ctx,
  );
  await waitForEvent(isLine('ready'));
  const [info] = await containersOf(id);
  t.ok(info, 'the container is found by its run label');
  const inspect = await docker.getContainer(info!.Id).inspect();
  t.equal(inspect.Config.Labels[CONTAINER_LABELS.attempt], '2');
  t.equal(inspect.Config.Labels[CONTAINER_LABELS.step], 'in box');
  t.equal(inspect.HostConfig.NetworkMode, 'none');
  t.equal(inspect.HostConfig.Memory, 64 * 1024 * 1024);
  t.equal(inspect.HostConfig.NanoCpus, 500_000_000);
  const result = await running;
  t.match(result, { status: 'success', output: { exit_code: 0 } });
  t.same(lines('stderr'), ['err-1']);
  t.same(
    lines('stdout'),
    ['out-1', `${id} 2 in box`, 'lo', 'ready', 'done'],
    'only the loopback interface: no network',
  );
  t.ok(events.some((e) => e.type === 'container.started'));
  t.same(await containersOf(id), [], 'removed');
});

t.test('a non-zero exit fails with the exit code, and the container is removed', async (t) => {
  const id = runId();
  const { ctx } = createTestStepContext(t, { runId: id });
  const result = await executor.run(
    { name: 'd', kind: 'docker', image: TEST_IMAGE, command: ['sh', '-c', 'exit 3'] },
    ctx,
  );
  t.same(result, { status: 'failed', code: 'exit_code', message: 'exit code 3', exitCode: 3 });
  t.same(await containersOf(id), []);
});

t.test('cancel: docker stop, then kill after the grace when SIGTERM is ignored; removed', async (t) => {
  const id = runId();
  const { ctx, controller, events, waitForEvent } = createTestStepContext(t, { runId: id, killGraceMs: 300 });
  const running = executor.run(
    {
      name: 'd',
      kind: 'docker',
      image: TEST_IMAGE,
      command: ['sh', '-c', "trap '' TERM; echo ready; while true; do sleep 1; done"],
    },
    ctx,
  );
  await waitForEvent(isLine('ready'));
  const started = Date.now();
  controller.abort();
  const result = await running;
  t.equal(result.status, 'cancelled');
  t.ok(Date.now() - started < 5000, 'stopped within the grace plus engine time');
  t.same(
    events.filter((e) => e.type.startsWith('cancel.')).map((e) => e.type),
    ['cancel.signalled', 'cancel.killed'],
  );
  t.same(await containersOf(id), [], 'removed');
});

t.test(
  'timeout: stopped gently (SIGTERM reaches the command through init), reported as timeout',
  async (t) => {
    const id = runId();
    const { ctx, events } = createTestStepContext(t, { runId: id, timeoutMs: 1500, killGraceMs: 3000 });
    const result = await executor.run(
      { name: 'd', kind: 'docker', image: TEST_IMAGE, command: ['sleep', '1000'] },
      ctx,
    );
    t.match(result, { status: 'timeout', timeoutMs: 1500 });
    t.same(
      events.filter((e) => e.type.startsWith('cancel.')).map((e) => [e.type, e.data?.reason]),
      [['cancel.signalled', 'timeout']],
      'no kill needed',
    );
    t.same(await containersOf(id), []);
  },
);

t.test(
  'copy_out: a file and a directory become artifacts, byte for byte; a missing path is reported',
  async (t) => {
    const { ctx, artifacts, events } = createTestStepContext(t);
    const result = await executor.run(
      {
        name: 'd',
        kind: 'docker',
        image: TEST_IMAGE,
        command: [
          'sh',
          '-c',
          'cd "$HOME" && mkdir -p out/sub && printf "# Report\\n" > report.md && echo a > out/a.txt && echo b > out/sub/b.txt',
        ],
        // HOME (/ocr/work) is writable; the image's working directory (/work here) is read-only like the rest.
        copy_out: [
          { path: '/ocr/work/report.md', kind: 'markdown' },
          { path: '/ocr/work/out', kind: 'text', name: 'outputs' },
          { path: '/ocr/work/missing.txt', kind: 'text' },
        ],
      },
      ctx,
    );
    t.equal(result.status, 'success');
    const byName = Object.fromEntries(artifacts.map((a) => [a.name, a]));
    t.same(Object.keys(byName).sort(), ['outputs/a.txt', 'outputs/sub/b.txt', 'report.md']);
    t.equal(readFileSync(byName['report.md']!.path!, 'utf8'), '# Report\n');
    t.equal(byName['report.md']!.kind, 'markdown');
    t.equal(readFileSync(byName['outputs/sub/b.txt']!.path!, 'utf8'), 'b\n');
    t.ok(byName['outputs/a.txt']!.path!.startsWith(ctx.workdir), 'written inside the run directory');
    t.match(
      events.find((e) => e.type === 'artifact.failed'),
      { message: /missing\.txt: no such file/ },
    );
  },
);

t.test('an absent image with pulling off is a typed failure', async (t) => {
  const { ctx } = createTestStepContext(t);
  const result = await createDockerExecutor({ docker, pull: false }).run(
    { name: 'd', kind: 'docker', image: 'ocr-test-absent:never' },
    ctx,
  );
  t.match(result, { status: 'failed', code: 'image_unavailable' });
});

t.test('a network can be asked for', async (t) => {
  const { ctx, lines } = createTestStepContext(t);
  const result = await executor.run(
    { name: 'd', kind: 'docker', image: TEST_IMAGE, network: 'bridge', command: ['ls', '/sys/class/net'] },
    ctx,
  );
  t.equal(result.status, 'success');
  t.ok(lines().includes('eth0'), 'has an interface besides loopback');
});
