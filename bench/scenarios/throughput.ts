import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { type BenchStack, until } from '../lib/stack.js';

export interface ThroughputConfig {
  runs: number;
  workers: number;
  concurrency: number;
  claimBatch: number;
}

/** Create `runs` no-op runs in batches of 1,000, several requests in flight. Returns runs/s. */
export async function bulkEnqueue(stack: BenchStack, runs: number, inFlight = 4): Promise<number> {
  const batches = Math.ceil(runs / 1000);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < batches) {
        const i = next++;
        const size = Math.min(1000, runs - i * 1000);
        await stack.admin.runs.createBatch(Array.from({ length: size }, () => ({ template: 'bench-noop' })));
      }
    }),
  );
  return runs / ((performance.now() - started) / 1000);
}

async function startWorkers(stack: BenchStack, cfg: ThroughputConfig, lanes = 'A'): Promise<ChildProcess[]> {
  const workers = Array.from({ length: cfg.workers }, (_, i) =>
    stack.spawnOcr('worker', {
      OCR_API_URL: stack.apiUrl,
      OCR_TOKEN: stack.workerToken,
      OCR_LANES: lanes,
      OCR_CONCURRENCY: String(cfg.concurrency),
      OCR_CLAIM_BATCH: String(cfg.claimBatch),
      OCR_WORKER_ID: `bench-${i}`,
      OCR_CLAIM_WAIT_MS: '5000',
      PORT: '0',
    }),
  );
  await until(async () => {
    const { rows } = await stack.db.pool.query('SELECT count(*)::int AS n FROM workers');
    return rows[0].n >= cfg.workers;
  }, 30_000);
  await warmUp(stack, lanes.split(',')[0]!);
  return workers;
}

/**
 * A worker that has just registered is still compiling the modules its first runs load (tsx) and JIT-ing
 * its hot path: measured runs would pay that. A few hundred runs first, then an empty queue again.
 */
async function warmUp(stack: BenchStack, lane: string): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await stack.admin.runs.createBatch(Array.from({ length: 100 }, () => ({ template: 'bench-noop', lane })));
    await until(async () => {
      const { rows } = await stack.db.pool.query(
        `SELECT count(*)::int AS n FROM runs WHERE status NOT IN ('success', 'error')`,
      );
      return rows[0].n === 0;
    }, 60_000);
  }
  await new Promise((r) => setTimeout(r, 500));
  await stack.clearRuns();
}

async function stopWorkers(workers: ChildProcess[]): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      w.kill('SIGTERM');
      if (w.exitCode === null) await once(w, 'exit');
    }),
  );
}

/**
 * End-to-end: idle workers long-polling, then `runs` no-op runs created in bulk and executed over the
 * worker protocol. Runs/s from the first run created to the last finished, both on the database clock.
 */
export async function endToEnd(stack: BenchStack, cfg: ThroughputConfig): Promise<number> {
  await stack.reset();
  const workers = await startWorkers(stack, cfg);
  try {
    await bulkEnqueue(stack, cfg.runs);
    await until(
      async () => {
        const { rows } = await stack.db.pool.query(
          `SELECT count(*)::int AS n FROM runs WHERE status = 'success'`,
        );
        return rows[0].n >= cfg.runs;
      },
      1_800_000,
      250,
    );
    const { rows } = await stack.db.pool.query(
      `SELECT extract(epoch FROM max(finished_at) - min(created_at))::float8 AS s FROM runs`,
    );
    return cfg.runs / rows[0].s;
  } finally {
    await stopWorkers(workers);
  }
}

/**
 * Drain, as the peers' drain figure: `runs` no-op runs created while their lane is paused, then the lane is
 * resumed under idle long-polling workers. Runs/s from the resume to the last finished (database clock).
 */
export async function drain(stack: BenchStack, cfg: ThroughputConfig): Promise<number> {
  await stack.reset();
  const workers = await startWorkers(stack, cfg);
  try {
    await stack.admin.lanes.update('A', { paused: true });
    await bulkEnqueue(stack, cfg.runs);
    const { rows: t0 } = await stack.db.pool.query(`SELECT now() AS at`);
    await stack.admin.lanes.update('A', { paused: false });
    await until(
      async () => {
        const { rows } = await stack.db.pool.query(
          `SELECT count(*)::int AS n FROM runs WHERE status = 'success'`,
        );
        return rows[0].n >= cfg.runs;
      },
      1_800_000,
      250,
    );
    const { rows } = await stack.db.pool.query(
      `SELECT extract(epoch FROM max(finished_at) - $1::timestamptz)::float8 AS s FROM runs`,
      [t0[0].at],
    );
    return cfg.runs / rows[0].s;
  } finally {
    await stack.admin.lanes.update('A', { paused: false }).catch(() => undefined);
    await stopWorkers(workers);
  }
}

/** Latencies (ms) of one claim-latency measurement, by two clocks. */
export interface ClaimLatencies {
  /** `started_at − created_at` of each run: the database's clock, from the create's transaction to the claim's. */
  db: number[];
  /**
   * The driver's clock just before `POST /v1/runs` → the worker's clock when it emits `run.started`: what the
   * peers measure (enqueue call → job start in the worker), so it adds the create request, the claim answer's
   * way back and the worker's start. Same machine, same clock; both ends have millisecond resolution.
   */
  client: number[];
}

/** Created → claimed latency for runs created one at a time at `perSecond` while idle workers (2 × 100 slots) long-poll. */
export async function claimLatency(
  stack: BenchStack,
  opts: { perSecond: number; seconds: number },
): Promise<ClaimLatencies> {
  await stack.reset();
  // Enough slots that every claimer is parked in its long-poll when a run arrives (at concurrency 10 a
  // no-op run holds its slot for ~0.2-0.4 s on this machine, so 20 slots at 50/s would be saturated and the
  // figure would be queueing, not claim latency).
  const workers = await startWorkers(stack, { runs: 0, workers: 2, concurrency: 100, claimBatch: 10 });
  try {
    const total = opts.perSecond * opts.seconds;
    const started = performance.now();
    const sentAt = new Map<string, number>();
    const created: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / opts.perSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t = Date.now();
      created.push(
        stack.admin.runs.create({ template: 'bench-noop' }).then(({ run }) => void sentAt.set(run.id, t)),
      );
    }
    await Promise.all(created);
    await until(async () => {
      const { rows } = await stack.db.pool.query(
        `SELECT count(*)::int AS n FROM runs WHERE started_at IS NOT NULL`,
      );
      return rows[0].n >= total;
    }, 60_000);
    const { rows } = await stack.db.pool.query(
      `SELECT extract(epoch FROM started_at - created_at)::float8 * 1000 AS ms FROM runs`,
    );
    // Read through the API, as a user would: where the timeline is stored is the API's business.
    const client: number[] = [];
    for (const [id, sent] of sentAt) {
      const { events } = await stack.admin.runs.events(id);
      const start = events.find((e) => e.type === 'run.started');
      if (!start) throw new Error(`run ${id} has no run.started event`);
      client.push(Date.parse(start.ts) - sent);
    }
    return { db: rows.map((r: { ms: number }) => r.ms), client };
  } finally {
    await stopWorkers(workers);
  }
}
