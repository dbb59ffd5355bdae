import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, createToken, migrateToLatest, type Db } from '@ocr/db';
import { freePort, type EmbeddedPostgresServer } from '@ocr/embedded';
import { startScratchPostgres } from '@ocr/testkit/postgres';
import { createClient, type OcrClient } from '@ocr/client';
import { installExitHandlers, onInterrupt, track, trackPostgres } from './children.js';

const OCR = fileURLToPath(new URL('../../packages/cli/bin/ocr.js', import.meta.url));
/**
 * Preloaded into API processes (with --expose-gc): SIGUSR2 runs full collections and prints the RSS and the
 * live JS memory (heap used + external) after them as one JSON line on stdout, which `memoryAfterGcKb` waits
 * for. Bench-only; the API itself is unchanged.
 */
const GC_ON_SIGNAL =
  'data:text/javascript,' +
  encodeURIComponent(
    `process.on('SIGUSR2', () => { globalThis.gc(); globalThis.gc(); const m = process.memoryUsage(); process.stdout.write(JSON.stringify({ bench_gc_rss_kb: Math.round(m.rss / 1024), bench_gc_heap_kb: Math.round((m.heapUsed + m.external) / 1024) }) + '\\n'); });`,
  );

/** A benchmark's world: a real Postgres, an API process, tokens, and helpers to spawn workers. */
export interface BenchStack {
  pg: EmbeddedPostgresServer | undefined;
  databaseUrl: string;
  db: Db;
  apiUrl: string;
  api: ChildProcess;
  admin: OcrClient;
  adminToken: string;
  workerToken: string;
  spawnOcr(command: string, env: Record<string, string>, nodeArgs?: string[]): ChildProcess;
  /** One more API process on the same database (scale-out scenarios); stop it with SIGTERM. */
  startExtraApi(): Promise<{ url: string; process: ChildProcess }>;
  /** Empty the run tables (runs, timelines, steps, artifacts), even while processes still write to them. */
  clearRuns(): Promise<void>;
  /** Empty the queue tables and forget the workers between repetitions. */
  reset(): Promise<void>;
  rssKb(pid: number): Promise<number>;
  /**
   * RSS and live JS memory (heap used + external) of an API process (kB) right after a full garbage
   * collection in it (API processes run with --expose-gc and collect on SIGUSR2): without it, garbage of
   * earlier phases makes deltas meaningless.
   */
  memoryAfterGcKb(api: ChildProcess): Promise<{ rss: number; heap: number }>;
  close(): Promise<void>;
}

export async function startBenchStack(): Promise<BenchStack> {
  // A crash or Ctrl-C must not leave API processes, workers or shards running (bench/lib/children.ts).
  installExitHandlers();
  // DATABASE_URL is the benchmarks' database itself; without it, a scratch embedded server (as npm test's).
  const scratch = process.env.DATABASE_URL ? undefined : await startScratchPostgres('ocr_bench');
  const server = scratch?.embedded;
  const untrackPostgres = server ? trackPostgres(server.dataDir) : () => undefined;
  const databaseUrl = scratch?.url ?? process.env.DATABASE_URL!;
  const db = connect(databaseUrl, { max: 10, applicationName: 'ocr-bench' });
  if (!scratch) await migrateToLatest(db.db, databaseUrl);
  const adminToken = `ocr_bench_admin_${randomBytes(24).toString('base64url')}`;
  const { token: workerToken } = await createToken(db.db, { name: 'bench-worker', role: 'worker' });
  const port = await freePort();
  const children: ChildProcess[] = [];
  const spawnOcr = (command: string, env: Record<string, string>, nodeArgs: string[] = []) => {
    // BENCH_CPU_PROF=DIR writes a V8 CPU profile of every spawned process there (open in Chrome DevTools).
    const prof = process.env.BENCH_CPU_PROF
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
      : [];
    const child = track(
      spawn(process.execPath, [...prof, ...nodeArgs, OCR, command], {
        env: { ...process.env, OCR_LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl!, ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    if (process.env.BENCH_LOGS) child.stdout!.pipe(process.stderr);
    else child.stdout!.resume();
    children.push(child);
    return child;
  };
  const gcReports = new WeakMap<ChildProcess, ((kb: { rss: number; heap: number }) => void)[]>();
  const spawnApi = async (apiPort: number) => {
    const child = spawnOcr(
      'api',
      {
        PORT: String(apiPort),
        HOST: '127.0.0.1',
        OCR_ADMIN_TOKEN: adminToken,
        OCR_LOG_LEVEL: 'info',
        OCR_RATE_LIMIT_PER_MIN: '100000000',
        OCR_DB_POOL_SIZE: '30',
        OCR_BODY_LIMIT_BYTES: '52428800',
      },
      ['--expose-gc', `--import=${GC_ON_SIGNAL}`],
    );
    gcReports.set(child, []);
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (line.includes('api listening')) resolve();
        const gc = /^\{"bench_gc_rss_kb":(\d+),"bench_gc_heap_kb":(\d+)\}$/.exec(line);
        if (gc) gcReports.get(child)?.shift()?.({ rss: Number(gc[1]), heap: Number(gc[2]) });
      });
      child.once('exit', (code) => reject(new Error(`api exited with ${code}`)));
    });
    return child;
  };
  const untrackInterrupt = onInterrupt(close);
  const api = await spawnApi(port);
  const apiUrl = `http://127.0.0.1:${port}`;
  const admin = createClient({ baseUrl: apiUrl, token: adminToken, timeoutMs: 120_000 });
  await admin.templates.put({ name: 'bench-noop', steps: [{ name: 'noop', kind: 'noop' }] });
  return {
    pg: server,
    databaseUrl,
    db,
    apiUrl,
    api,
    admin,
    adminToken,
    workerToken,
    spawnOcr,
    async startExtraApi() {
      const extraPort = await freePort();
      return { url: `http://127.0.0.1:${extraPort}`, process: await spawnApi(extraPort) };
    },
    clearRuns,
    async reset() {
      await clearRuns();
      await retryDeadlock(() => db.pool.query('DELETE FROM workers'));
    },
    async rssKb(pid: number) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    },
    async memoryAfterGcKb(api: ChildProcess) {
      const report = new Promise<{ rss: number; heap: number }>((resolve) =>
        gcReports.get(api)!.push(resolve),
      );
      api.kill('SIGUSR2');
      return report;
    },
    close,
  };

  /**
   * A scenario's last requests may still be in the API when the next one starts. TRUNCATE locks its tables one
   * by one while the hot statements write `runs` before the other tables (their writes are fenced through the
   * run row), so `runs` is locked first here; a deadlock that still happens (Postgres aborts one side) is retried.
   */
  async function clearRuns() {
    await retryDeadlock(async () => {
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('LOCK TABLE runs IN ACCESS EXCLUSIVE MODE');
        await client.query('TRUNCATE run_events, run_steps, artifacts, runs CASCADE');
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    });
  }

  async function close() {
    // SIGTERM first so profiles (BENCH_CPU_PROF) get written; SIGKILL whatever is still there.
    const alive = children.filter((child) => child.exitCode === null);
    for (const child of alive) child.kill('SIGTERM');
    await Promise.race([
      Promise.all(alive.map((child) => new Promise((r) => child.once('exit', r)))),
      new Promise((r) => setTimeout(r, 5_000)),
    ]);
    for (const child of alive) if (child.exitCode === null) child.kill('SIGKILL');
    untrackInterrupt();
    await db.close();
    await scratch?.stop();
    untrackPostgres();
  }
}

/** Run `statement` again when Postgres chose it as a deadlock's victim (SQLSTATE 40P01). */
async function retryDeadlock<T>(statement: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (error) {
      if ((error as { code?: string }).code !== '40P01' || attempt === 5) throw error;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

/**
 * Wait until `check` is true, polling. A check that throws counts as not yet: under a fleet's thousand
 * connections the bench's own pool can fail to connect once (seen at full scale), which must not end the run.
 */
export async function until(check: () => Promise<boolean>, timeoutMs: number, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('benchmark condition not reached in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
