/**
 * A docker step tries to get out of its box, against the real engine and an image made with `docker import`
 * (busybox, with setuid-free `su`, `nc`, `wget`, `mknod`, `chown` in it): write to the root filesystem, act
 * as root, keep a capability, fork without bound, reach the network. Each attempt fails; each has a control
 * (a box the worker was configured to open) showing the attempt would have worked, so no check is vacuous.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { CONTAINER_LABELS, createDockerExecutor } from '../../src/executors/docker.js';
import { ensureTestImage, TEST_IMAGE } from '@ocr/testkit/docker-image';
import { createTestStepContext, isLine, type Teardown } from '../fixtures/step-context.js';

const docker = await ensureTestImage();
const hardened = createDockerExecutor({ docker });

function runId(): string {
  return `00000000-0000-4000-8000-${Math.random().toString(16).slice(2, 14).padEnd(12, '0')}`;
}

/** Run a shell script in a container; the step's log lines and result. */
async function inBox(t: Teardown, script: string, extra: Record<string, unknown> = {}, executor = hardened) {
  const { ctx, lines } = createTestStepContext(t);
  const result = await executor.run(
    { name: 'box', kind: 'docker', image: TEST_IMAGE, command: ['sh', '-c', script], ...extra },
    ctx,
  );
  return { result, out: lines('stdout'), err: lines('stderr') };
}

t.test(
  'the box as created: non-root, read-only root, no capabilities, no new privileges, limits',
  async (t) => {
    const id = runId();
    const { ctx, waitForEvent, controller } = createTestStepContext(t, { runId: id });
    const running = hardened.run(
      {
        name: 'box',
        kind: 'docker',
        image: TEST_IMAGE,
        command: ['sh', '-c', 'echo ready; sleep 30'],
        memory_mb: 128,
        cpus: 0.5,
        pids_limit: 64,
      },
      ctx,
    );
    await waitForEvent(isLine('ready'));
    const [info] = await docker.listContainers({
      all: true,
      filters: { label: [`${CONTAINER_LABELS.runId}=${id}`] },
    });
    const inspect = await docker.getContainer(info!.Id).inspect();
    t.equal(inspect.Config.User, '65534:65534', 'runs as nobody');
    t.equal(inspect.HostConfig.ReadonlyRootfs, true, 'read-only root filesystem');
    t.same(inspect.HostConfig.CapDrop, ['ALL']);
    t.notOk(inspect.HostConfig.CapAdd?.length, 'no capability added');
    t.same(inspect.HostConfig.SecurityOpt, ['no-new-privileges']);
    t.equal(inspect.HostConfig.NetworkMode, 'none');
    t.equal(inspect.HostConfig.Memory, 128 * 1024 * 1024);
    t.equal(inspect.HostConfig.MemorySwap, 128 * 1024 * 1024, 'no swap beyond the memory limit');
    t.equal(inspect.HostConfig.NanoCpus, 500_000_000);
    t.equal(inspect.HostConfig.PidsLimit, 64);
    t.equal(inspect.HostConfig.Privileged, false);
    t.same(inspect.HostConfig.Binds ?? [], [], 'no bind mounts');
    t.same(
      inspect.Mounts.map((m) => [m.Type, m.Destination]),
      [['volume', '/ocr']],
      'the only mount: the work volume',
    );
    controller.abort();
    t.match(await running, { status: 'cancelled' });
    const volume = inspect.Mounts[0]!.Name!;
    t.match(
      await docker
        .getVolume(volume)
        .inspect()
        .catch((e: { statusCode?: number }) => e),
      { statusCode: 404 },
      'the work volume is removed with the container',
    );
  },
);

t.test('writing outside the work directories fails; HOME and TMPDIR are writable', async (t) => {
  const { result, out } = await inBox(
    t,
    [
      'for f in /evil /etc/passwd /bin/sh /ocr/evil /work/evil /tmp/evil; do (echo x > $f) 2>/dev/null && echo "wrote $f" || echo "refused $f"; done',
      'echo ok > "$HOME/f" && echo "wrote home"',
      'echo ok > "$TMPDIR/f" && echo "wrote tmp"',
      'echo "home $HOME tmp $TMPDIR pwd $(pwd)"',
    ].join('\n'),
  );
  t.equal(result.status, 'success');
  t.same(out, [
    'refused /evil',
    'refused /etc/passwd',
    'refused /bin/sh',
    'refused /ocr/evil',
    'refused /work/evil',
    'refused /tmp/evil',
    'wrote home',
    'wrote tmp',
    // The image's working directory is kept (this image sets /work), read-only like the rest.
    'home /ocr/work tmp /ocr/tmp pwd /work',
  ]);
});

t.test(
  'becoming root fails: not root, no capabilities, no new privileges, su and chown refused',
  async (t) => {
    const script = [
      'id -u',
      'grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs):" /proc/self/status',
      'touch /ocr/work/f; chown 1:1 /ocr/work/f 2>/dev/null && echo "chown ok" || echo "chown refused"',
      'busybox mknod /ocr/work/disk b 8 0 2>/dev/null && echo "mknod ok" || echo "mknod refused"',
      'echo | busybox su -c "id -u" root 2>/dev/null && echo "su ok" || echo "su refused"',
    ].join('\n');
    const { result, out } = await inBox(t, script);
    t.equal(result.status, 'success');
    t.same(out, [
      '65534',
      'CapPrm:\t0000000000000000',
      'CapEff:\t0000000000000000',
      'CapBnd:\t0000000000000000',
      'NoNewPrivs:\t1',
      'chown refused',
      'mknod refused',
      'su refused',
    ]);
    // Even as the image's root user (a worker configured with OCR_DOCKER_USER empty), no capability is left.
    const asRoot = await inBox(t, script, {}, createDockerExecutor({ docker, user: '' }));
    t.same(asRoot.out.slice(0, 1), ['0'], 'uid 0 inside');
    t.match(asRoot.out, ['0', 'CapPrm:\t0000000000000000', 'CapEff:\t0000000000000000']);
    t.ok(
      asRoot.out.includes('chown refused') && asRoot.out.includes('mknod refused'),
      'root without capabilities',
    );
    // Control: a capability the worker allows and the step asks for is really there.
    const allowed = createDockerExecutor({ docker, user: '', capAllowlist: ['CHOWN'] });
    const kept = await inBox(t, script, { cap_add: ['CHOWN'] }, allowed);
    t.ok(kept.out.includes('chown ok'), 'with CHOWN kept, chown works (the check can fail)');
    t.ok(kept.out.includes('mknod refused'), 'and nothing else was added');
  },
);

t.test('a fork bomb stops at the pids limit, and the step ends', async (t) => {
  // The loop runs in a subshell: when fork fails it dies, and the outer shell (no fork needed: builtins and
  // a glob) counts the processes in the box.
  const script =
    '(for i in $(seq 1 300); do sleep 20 & done) 2>/dev/null; set -- /proc/[0-9]*; echo "processes $#"';
  const limited = await inBox(t, script, { pids_limit: 32, timeout_s: 60 });
  t.equal(limited.result.status, 'success', 'the step itself is unharmed');
  const count = Number(limited.out.find((l) => l.startsWith('processes'))?.split(' ')[1]);
  t.ok(count > 0 && count <= 32, `${count} processes with pids_limit 32`);
  // Control: with room, the same loop starts all of its children (the limit is what stopped it above).
  const roomy = await inBox(t, script, { pids_limit: 1024, timeout_s: 60 });
  const roomyCount = Number(roomy.out.find((l) => l.startsWith('processes'))?.split(' ')[1]);
  t.ok(roomyCount > 300, `${roomyCount} processes with pids_limit 1024`);
});

t.test('the network: none by default; a network the worker does not allow is refused', async (t) => {
  const server = createServer((_req, res) => res.end('reached'));
  server.listen(0, '0.0.0.0');
  await once(server, 'listening');
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const port = (server.address() as AddressInfo).port;
  const gateway = (
    (await docker.getNetwork('bridge').inspect()) as { IPAM: { Config: { Gateway: string }[] } }
  ).IPAM.Config[0]!.Gateway;
  // busybox nc speaks the HTTP request by hand (its wget needs more of a libc than this image has).
  const script = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 ${gateway} ${port} 2>&1 | tail -1; echo; ls /sys/class/net`;
  const none = await inBox(t, script);
  t.match(none.out[0], /unreachable/i, 'no route out without a network');
  t.notOk(none.out.includes('reached'));
  t.same(none.out.slice(-1), ['lo'], 'only loopback');
  // Control: on bridge (allowed by default) the same request reaches the host.
  const bridge = await inBox(t, script, { network: 'bridge' });
  t.ok(
    bridge.out.includes('reached'),
    `bridge reaches the server (the check can fail): ${JSON.stringify(bridge.out)}`,
  );
  // A worker that allows only `none` refuses the step before any container exists.
  const closed = createDockerExecutor({ docker, networks: ['none'] });
  const refused = await inBox(t, script, { network: 'bridge' }, closed);
  t.match(refused.result, { status: 'failed', code: 'network_refused', message: /OCR_DOCKER_NETWORKS/ });
  for (const network of ['host', 'container:abc'])
    t.match((await inBox(t, 'true', { network })).result, { status: 'failed', code: 'network_refused' });
});

t.test('limits above the worker maxima and capabilities outside its allowlist are refused', async (t) => {
  const bounded = createDockerExecutor({ docker, maxMemoryMb: 256, maxCpus: 1, maxPids: 64 });
  for (const [field, value] of [
    ['memory_mb', 512],
    ['cpus', 2],
    ['pids_limit', 65],
  ] as const) {
    const { result } = await inBox(t, 'true', { [field]: value }, bounded);
    t.match(result, { status: 'failed', code: 'limit_exceeded', message: new RegExp(field) });
  }
  t.match((await inBox(t, 'true', { memory_mb: 256, cpus: 1, pids_limit: 64 }, bounded)).result, {
    status: 'success',
  });
  t.match((await inBox(t, 'true', { cap_add: ['SYS_ADMIN'] })).result, {
    status: 'failed',
    code: 'capability_refused',
  });
  const containers = await docker.listContainers({ all: true, filters: { label: ['ocr.managed=true'] } });
  t.same(
    containers.filter((c) => c.Labels[CONTAINER_LABELS.step] === 'box'),
    [],
    'every container was removed',
  );
});
