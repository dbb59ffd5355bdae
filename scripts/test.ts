/**
 * `npm test`: one embedded PostgreSQL server per run (or DATABASE_URL), a template database migrated once,
 * then tap over every test file (or the paths given). Each test file clones the template into a database
 * of its own through @ocr/testkit, so files run in parallel without seeing each other. Before all that,
 * scripts/setup-machine.ts makes sure Docker, Chromium, busybox and kubectl are there (or says what to run).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmbeddedPostgresServer } from '@ocr/embedded';
import { partsFor, setUpMachine } from './setup-machine.js';

const TEMPLATE_DB = 'ocr_test_template';

async function prepareTemplate(serverUrl: string, templateUrl: string): Promise<void> {
  const { default: pg } = await import('pg');
  const { connect, migrateToLatest } = await import('@ocr/db');
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  await admin.end();
  const { db, close } = connect(templateUrl, { max: 2 });
  await migrateToLatest(db, templateUrl);
  await close();
}

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

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
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
  let server: EmbeddedPostgresServer | undefined;
  let dataDir: string | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    dataDir = await mkdtemp(join(tmpdir(), 'ocr-test-pg-'));
    const { startEmbeddedPostgres } = await import('@ocr/embedded');
    server = await startEmbeddedPostgres({ dir: dataDir, persistent: false });
    serverUrl = server.url;
  }
  try {
    const templateUrl = withDatabase(serverUrl, TEMPLATE_DB);
    await prepareTemplate(serverUrl, templateUrl);
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
    await server?.stop().catch(() => undefined);
    if (dataDir) await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
