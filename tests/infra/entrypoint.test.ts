// The image's entrypoint, run outside Docker and fast: the exact CMD of the Dockerfile runs here from the
// repository root (on the sources; the image runs the same CMD on the compiled build, which
// tests/images/images.test.ts checks in real containers), and the image's HEALTHCHECK script judges it. Each process must answer /healthz and stop
// with exit 0 on SIGTERM, as the container runtime will ask it to.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { freePort } from '@ocr/embedded';
import { createTestDatabase, type TestLike } from '@ocr/testkit';
import { REPO_ROOT } from './kustomize.js';

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const CMD = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
const HEALTHCHECK = JSON.parse(
  /^\s*CMD (\["node", "\/usr\/local\/lib\/ocr\/healthcheck\.mjs"\])$/m.exec(dockerfile)![1]!,
) as string[];
// In the image the script sits at /usr/local/lib/ocr; here it is read from where the image copies it from.
const healthcheckArgs = HEALTHCHECK.slice(1).map((arg) =>
  arg === '/usr/local/lib/ocr/healthcheck.mjs' ? join(REPO_ROOT, 'infra/docker/healthcheck.mjs') : arg,
);

/** Run the image's health check against PORT; its exit code. */
async function healthcheck(port: number): Promise<number | null> {
  const child = spawn(process.execPath, healthcheckArgs, {
    env: { ...process.env, PORT: String(port) },
    stdio: 'ignore',
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

/** Start `command` (the Dockerfile's CMD with its last word replaced) as the image would. */
function start(t: TestLike, command: string, env: Record<string, string>): ChildProcess {
  const argv = [...CMD.slice(0, -1), command];
  const child = spawn(process.execPath, argv.slice(1), {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      OCR_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    if (stderr && process.env.OCR_TEST_LOG_LEVEL) process.stderr.write(stderr);
  });
  return child;
}

/** Poll the health check until it passes (the image gives a 60 s start period). */
async function healthy(port: number, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    if ((await healthcheck(port)) === 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

t.test('the Dockerfile runs the CLI with node under tini', async (t) => {
  t.same(CMD, ['node', 'packages/cli/bin/ocr.js', 'api']);
  t.same(HEALTHCHECK, ['node', '/usr/local/lib/ocr/healthcheck.mjs']);
});

t.test('the health check fails when nothing answers (so a pass below means something)', async (t) => {
  t.equal(await healthcheck(await freePort()), 1);
});

t.test('each process of the image answers its health check and exits 0 on SIGTERM', async (t) => {
  const { url } = await createTestDatabase(t);
  const apiPort = await freePort();
  const admin = `ocr_entrypoint_${randomBytes(24).toString('base64url')}`;
  const api = start(t, 'api', {
    DATABASE_URL: url,
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    OCR_ADMIN_TOKEN: admin,
  });
  t.ok(await healthy(apiPort, api), 'api: healthy');

  const workerPort = await freePort();
  const worker = start(t, 'worker', {
    OCR_API_URL: `http://127.0.0.1:${apiPort}`,
    OCR_TOKEN: admin,
    OCR_LANES: 'A',
    PORT: String(workerPort),
  });
  const sweeperPort = await freePort();
  const sweeper = start(t, 'sweeper', { DATABASE_URL: url, PORT: String(sweeperPort) });
  t.ok(await healthy(workerPort, worker), 'worker: healthy');
  t.ok(await healthy(sweeperPort, sweeper), 'sweeper: healthy');

  for (const [name, child] of [
    ['worker', worker],
    ['sweeper', sweeper],
    ['api', api],
  ] as const) {
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    t.equal(code, 0, `${name}: exit 0 on SIGTERM`);
  }
});
