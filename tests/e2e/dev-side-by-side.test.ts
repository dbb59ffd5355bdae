/**
 * Two `npm start` on one machine: `ocr dev` with its own PORT and a private OCR_HOME (0700, as
 * `mktemp -d` makes; as root, embedded Postgres must still reach it). Both become ready and stay up, each
 * with its own worker and sweeper ops servers on loopback; a third on a taken PORT stops before it starts
 * anything, with one line naming the variable.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { freePort } from '@ocr/embedded';
import { spawnOcr } from '@ocr/testkit';

const OCR = resolve(import.meta.dirname, '../../packages/cli/bin/ocr.js');

function tempDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What `npm start` gets on a fresh machine: no external Postgres or S3, a home and a port of its own. */
function devEnv(home: string, port: number, consoleDir: string): Record<string, string> {
  return {
    PORT: String(port),
    OCR_HOME: home,
    OCR_CONSOLE_DIR: consoleDir,
    DATABASE_URL: '',
    OCR_S3_ENDPOINT: '',
    OCR_ADMIN_TOKEN: '',
    OCR_WORKER_PORT: '',
    OCR_SWEEPER_PORT: '',
    OCR_S3_PORT: '',
  };
}

async function status(url: string): Promise<number> {
  return (await fetch(url)).status;
}

t.test(
  'two dev stacks run side by side; a third on a taken PORT stops before ready with one line',
  async (t) => {
    // A stand-in console build: these stacks need the API to serve one, not a real Vite build.
    const consoleDir = tempDir(t, 'ocr-dev-console-');
    writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><title>console</title>');
    const homes = [tempDir(t, 'ocr-dev-a-'), tempDir(t, 'ocr-dev-b-')];
    for (const home of homes)
      t.equal(statSync(home).mode & 0o777, 0o700, 'a private home, as mktemp -d makes');
    const ports = [await freePort(), await freePort()];
    const stacks = homes.map((home, i) => spawnOcr(t, 'dev', devEnv(home, ports[i]!, consoleDir)));
    const readies = await Promise.all(
      stacks.map((s, i) =>
        Promise.race([
          s.waitForLog((l) => l.msg === 'ready', 150_000),
          s.exited.then((code) =>
            Promise.reject(
              new Error(`stack ${i} exited with ${code} before ready: ${JSON.stringify(s.logs.slice(-3))}`),
            ),
          ),
        ]),
      ),
    );

    const ops = readies.map((r) => r.opsPorts as { worker: number; sweeper: number });
    t.equal(new Set([...ports, ...ops.flatMap((o) => [o.worker, o.sweeper])]).size, 6, 'six distinct ports');
    for (const [i, stack] of stacks.entries()) {
      t.equal(stack.child.exitCode, null, `stack ${i} is running`);
      t.equal(await status(`http://127.0.0.1:${ports[i]}/readyz`), 200, `stack ${i}'s API is ready`);
      t.equal(await status(`http://127.0.0.1:${ops[i]!.worker}/readyz`), 200, `stack ${i}'s worker claims`);
      t.equal(
        await status(`http://127.0.0.1:${ops[i]!.sweeper}/healthz`),
        200,
        `stack ${i}'s sweeper answers`,
      );
    }

    // A third start on stack 0's PORT: refused before Postgres or anything else starts.
    const third = tempDir(t, 'ocr-dev-c-');
    const started = Date.now();
    const child = spawn(process.execPath, [OCR, 'dev'], {
      env: { ...process.env, ...devEnv(third, ports[0]!, consoleDir) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    t.equal(code, 1);
    t.equal(
      stderr,
      `ocr: config: PORT=${ports[0]}: 127.0.0.1:${ports[0]} is already in use (another ocr dev?); choose a free port with PORT\n`,
    );
    t.notMatch(stdout, /embedded postgres started|ready/, `nothing started (${Date.now() - started} ms)`);

    // Both stacks outlived the refused one and stop cleanly, Postgres included.
    for (const port of ports) t.equal(await status(`http://127.0.0.1:${port}/readyz`), 200);
    for (const stack of stacks) stack.child.kill('SIGTERM');
    t.same(await Promise.all(stacks.map((s) => s.exited)), [0, 0]);
  },
);
