/**
 * `npm test`: one embedded PostgreSQL server per run (or DATABASE_URL), a template database migrated once,
 * then tap over every test file (or the paths given). Each test file clones the template into a database
 * of its own through @ocr/testkit, so files run in parallel without seeing each other. Before all that,
 * scripts/setup-machine.ts makes sure Docker, Chromium, busybox and kubectl are there (or says what to run).
 */
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { partsFor, setUpMachine } from './setup-machine.js';

const TEMPLATE_DB = 'ocr_test_template';

/** Directories given on the command line become the test files inside them (tap would run every file). */
async function expand(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    const info = arg.startsWith('-') ? undefined : await stat(arg).catch(() => undefined);
    if (!info?.isDirectory()) {
      out.push(arg);
      continue;
    }
    const entries = await readdir(arg, { recursive: true });
    for (const entry of entries.sort()) {
      if (entry.includes('node_modules')) continue;
      if (entry.endsWith('.test.ts')) out.push(join(arg, entry));
    }
  }
  return out;
}

async function main(): Promise<number> {
  const started = Date.now();
  // The machine first, before anything slow: a missing part stops the run in its first second.
  const args = await expand(process.argv.slice(2));
  const machine = await setUpMachine(partsFor(args));
  if (!machine.ok) {
    process.stderr.write(`${machine.message}\n`);
    return 1;
  }
  // Imported after the machine check: loading Postgres and the migrations takes a moment.
  const { startScratchPostgres } = await import('@ocr/testkit/postgres');
  const postgres = await startScratchPostgres(TEMPLATE_DB, process.env.DATABASE_URL);
  const serverUrl = postgres.serverUrl;
  try {
    process.stderr.write(`test database ready in ${Date.now() - started} ms\n`);
    const child = spawn(process.execPath, [join('node_modules', 'tap', 'dist', 'esm', 'run.mjs'), ...args], {
      stdio: 'inherit',
      env: { ...process.env, OCR_TEST_SERVER_URL: serverUrl, OCR_TEST_TEMPLATE_DB: TEMPLATE_DB },
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    return await new Promise<number>((resolve) =>
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
    );
  } finally {
    await postgres.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
