/**
 * Ctrl-C on `npm start` while a run is active. A terminal sends SIGINT to the whole foreground process
 * group; regression for issue 14: embedded Postgres was in that group, stopped at once, and the API answered
 * 503 until the 15 s forced exit. Now Postgres runs in a group of its own and `ocr dev` stops the worker
 * (handing its run back), the API, the sweeper, S3, then Postgres, and exits promptly with status 0.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { createClient } from '@ocr/client';
import { freePort } from '@ocr/embedded';
import { eventually } from '@ocr/testkit';

const OCR = resolve(import.meta.dirname, '../../packages/cli/bin/ocr.js');

t.test('SIGINT to the process group with a run active: ordered stop, no 503s, prompt exit 0', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'ocr-dev-stop-'));
  const consoleDir = mkdtempSync(join(tmpdir(), 'ocr-dev-stop-console-'));
  t.teardown(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(consoleDir, { recursive: true, force: true });
  });
  writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><title>console</title>');
  const port = await freePort();
  const adminToken = `ocr_dev_stop_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  // detached: a process group of its own, as a shell gives a foreground job.
  const child = spawn(process.execPath, [OCR, 'dev'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      OCR_LOG_LEVEL: 'info',
      PORT: String(port),
      OCR_HOME: home,
      OCR_CONSOLE_DIR: consoleDir,
      OCR_ADMIN_TOKEN: adminToken,
      DATABASE_URL: '',
      OCR_S3_ENDPOINT: '',
      OCR_WORKER_PORT: '',
      OCR_SWEEPER_PORT: '',
      OCR_S3_PORT: '',
      OCR_SHUTDOWN_GRACE_S: '3',
    },
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  });
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    raw.push(text);
    try {
      lines.push(JSON.parse(text));
    } catch {
      // the banner
    }
  });
  child.stderr!.on('data', (d: Buffer) => raw.push(d.toString()));
  await eventually(
    async () =>
      lines.some((l) => l.msg === 'ready') ||
      (child.exitCode !== null && Promise.reject(new Error(raw.slice(-5).join('\n')))),
    150_000,
    100,
  );

  const client = createClient({ baseUrl: `http://127.0.0.1:${port}`, token: adminToken });
  await client.templates.create({
    name: 'long',
    default_lane: 'A',
    steps: [{ name: 'wait', kind: 'shell', script: 'echo start; sleep 60' }],
  });
  const { run } = await client.runs.create({ template: 'long' });
  await eventually(
    async () => (await client.runs.events(run.id)).events.some((e) => e.message === 'start'),
    60_000,
  );

  const signalled = Date.now();
  process.kill(-child.pid!, 'SIGINT');
  const code = await exited;
  const tookMs = Date.now() - signalled;
  t.equal(code, 0, 'exit 0');
  t.ok(tookMs < 10_000, `exits promptly (${tookMs} ms; the forced exit is at 15 s)`);
  const stopped = lines.filter((l) => l.msg === 'stopped').map((l) => l.resource);
  t.same(stopped, ['worker', 'api', 'sweeper', 's3', 'postgres'], 'worker, API, sweeper, S3, then Postgres');
  const unavailable = raw.filter((line) =>
    /"statusCode":503|\b503\b|database_unavailable|ECONNREFUSED/.test(line),
  );
  t.same(unavailable, [], 'no 503 or refused connection while stopping');
  t.ok(
    lines.some((l) => l.msg === 'grace running out: handing runs back'),
    'the active run was handed back through the API',
  );
  t.notOk(
    lines.some((l) => l.msg === 'release failed'),
    'the hand-back reached the API',
  );
});
