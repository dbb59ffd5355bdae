/**
 * The fresh-machine path of `npm test`, in child environments that lack the parts: Docker, Chromium,
 * kubectl and busybox hidden (an empty PATH, sockets and paths that do not exist). As a user without
 * root, the real test command stops at once with the command to run; as root, the setup plans the
 * installs and the dockerd start, one line each.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { isStaticElf, partsFor, setUpMachine, type Part } from './setup-machine.js';

const ROOT = resolve(import.meta.dirname, '..');
const isRoot = process.getuid?.() === 0;

function emptyPath(t: { teardown(fn: () => void): void }, links: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'ocr-setup-path-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, target] of Object.entries(links)) symlinkSync(target, join(dir, name));
  return dir;
}

/** A machine without any part: nothing on PATH, no engine socket, no Chromium, no busybox. */
function bareEnv(path: string): NodeJS.ProcessEnv {
  return {
    PATH: path,
    HOME: tmpdir(),
    DOCKER_HOST: 'unix:///tmp/ocr-setup-test-no-docker.sock',
    OCR_CHROMIUM_PATH: '/tmp/ocr-setup-test-no-chromium',
    OCR_BUSYBOX_PATH: '/tmp/ocr-setup-test-no-busybox',
  };
}

function runNode(
  args: string[],
  env: NodeJS.ProcessEnv,
  uid?: number,
): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((done) => child.on('exit', (code) => done({ code, stderr, ms: Date.now() - started })));
}

t.test(
  'without root, `npm test` stops before starting anything and prints the one command to run',
  async (t) => {
    // As root the child drops to nobody; as anyone else it already lacks root.
    const result = await runNode(['scripts/test.ts'], bareEnv(emptyPath(t)), isRoot ? 65534 : undefined);
    t.equal(result.code, 1);
    t.match(
      result.stderr,
      /npm test needs Docker engine \(nothing answers on \/tmp\/ocr-setup-test-no-docker\.sock\), static busybox at \/tmp\/ocr-setup-test-no-busybox .*, Chromium at \/tmp\/ocr-setup-test-no-chromium, kubectl or kustomize; installing them needs root/,
    );
    t.match(
      result.stderr,
      "sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends docker.io busybox-static debootstrap chromium kubernetes-client && (dockerd >/tmp/ocr-dockerd.log 2>&1 &)'",
    );
    t.notMatch(result.stderr, /test database ready/, 'no Postgres was started');
    // Node and tsx start-up included; the decision itself waits on nothing (no socket answers, no apt).
    t.ok(result.ms < 15_000, `stopped after ${result.ms} ms`);
  },
);

t.test('only the parts the selected test files use are required', async (t) => {
  const result = await runNode(
    ['scripts/test.ts', 'tests/infra/rules.test.ts'],
    bareEnv(emptyPath(t)),
    isRoot ? 65534 : undefined,
  );
  t.equal(result.code, 1);
  t.match(result.stderr, 'npm test needs kubectl or kustomize; installing them needs root');
  t.notMatch(result.stderr, /Docker|Chromium|busybox/);
});

const ALL: Part[] = ['docker', 'chromium', 'kustomize'];

/** The root path in-process (isRoot: true), so it is exercised whoever runs the suite; dry run: nothing is installed. */
async function planAsRoot(parts: Part[], env: NodeJS.ProcessEnv) {
  const lines: string[] = [];
  const result = await setUpMachine(parts, {
    env,
    dryRun: true,
    isRoot: true,
    write: (line) => lines.push(line),
  });
  return { result, lines };
}

t.test(
  'as root with apt-get, the setup installs each missing package and starts dockerd, one line per action',
  async (t) => {
    const { result, lines } = await planAsRoot(ALL, bareEnv(emptyPath(t, { 'apt-get': '/usr/bin/apt-get' })));
    t.equal(result.ok, true);
    t.same(lines, [
      '[setup] apt-get update',
      '[setup] apt-get install -y --no-install-recommends docker.io',
      '[setup] apt-get install -y --no-install-recommends busybox-static',
      '[setup] apt-get install -y --no-install-recommends chromium',
      '[setup] apt-get install -y --no-install-recommends kubernetes-client',
      '[setup] start dockerd (log: /tmp/ocr-dockerd.log)',
    ]);
  },
);

t.test('as root with dockerd installed but not running, the only action is starting it', async (t) => {
  const path = emptyPath(t, { 'apt-get': '/usr/bin/apt-get', dockerd: '/bin/true', kubectl: '/bin/true' });
  const { result, lines } = await planAsRoot(ALL, {
    ...bareEnv(path),
    OCR_CHROMIUM_PATH: process.execPath,
    OCR_BUSYBOX_PATH: '/bin/busybox',
  });
  t.equal(result.ok, true);
  t.same(lines, ['[setup] start dockerd (log: /tmp/ocr-dockerd.log)']);
});

t.test('as root without apt-get, the setup stops with the command (no sudo)', async (t) => {
  const { result, lines } = await planAsRoot(['chromium'], bareEnv(emptyPath(t)));
  t.same(lines, []);
  t.same(result, {
    ok: false,
    message:
      "npm test needs Chromium at /tmp/ocr-setup-test-no-chromium; apt-get is not available here (use your distribution's packages for the same parts). Run:\n  apt-get update && apt-get install -y --no-install-recommends chromium\nthen npm test again.",
  });
});

t.test('the command line: --dry-run plans, --with adds the benchmarks part', async (t) => {
  const result = await runNode(
    ['scripts/setup-machine.ts', '--dry-run', '--with', 'pgbench', 'services/api'],
    bareEnv(emptyPath(t)),
    isRoot ? 65534 : undefined,
  );
  t.equal(result.code, 1);
  t.match(
    result.stderr,
    "npm test needs pgbench (the benchmarks); installing them needs root. Run:\n  sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends postgresql-contrib'",
  );
});

t.test('parts by path, and the static-binary check', async (t) => {
  t.same(partsFor([]), ['docker', 'debootstrap', 'chromium', 'kustomize']);
  t.same(partsFor(['--grep=x']), ['docker', 'debootstrap', 'chromium', 'kustomize']);
  t.same(partsFor(['services/api/test']), []);
  t.same(partsFor(['services']), ['docker']);
  t.same(partsFor(['services/worker/test/executors/docker.test.ts', 'tests/console/runs.test.ts']), [
    'docker',
    'chromium',
  ]);
  t.same(partsFor(['tests']), ['docker', 'debootstrap', 'chromium', 'kustomize']);
  t.same(partsFor(['tests/security/params-injection.test.ts']), ['docker']);
  t.same(partsFor(['tests/images']), ['docker', 'debootstrap']);
  t.equal(isStaticElf(process.execPath), false, 'node is dynamically linked');
  t.equal(isStaticElf(join(ROOT, 'package.json')), false, 'not an ELF file');
  t.equal(isStaticElf('/tmp/ocr-setup-test-none'), false);
});
