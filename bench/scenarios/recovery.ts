import { once } from 'node:events';
import { percentile } from '../lib/stats.js';
import { type BenchStack, until } from '../lib/stack.js';

export interface RecoveryResult {
  requeuedP50: number;
  requeuedP99: number;
  completedP50: number;
  completedP99: number;
  limitS: number;
}

/**
 * A worker running `runs` runs is killed with SIGKILL; a sweeper requeues them and a second worker, started
 * at the kill, finishes them. Seconds from the kill to requeued, and to completed elsewhere (includes the 2 s step).
 */
export async function recovery(
  stack: BenchStack,
  opts: { runs: number; timeoutS: number; intervalS: number },
): Promise<RecoveryResult> {
  await stack.reset();
  await stack.admin.templates.put({
    name: 'bench-sleep',
    steps: [{ name: 'sleep', kind: 'shell', script: 'sleep 2' }],
  });
  const fast = {
    OCR_HEARTBEAT_INTERVAL_S: '1',
    OCR_HEARTBEAT_TIMEOUT_S: String(opts.timeoutS),
    OCR_SWEEP_INTERVAL_S: String(opts.intervalS),
  };
  const sweeper = stack.spawnOcr('sweeper', { ...fast, PORT: '0', OCR_SWEEPER_ID: 'bench-sweeper' });
  const workerEnv = {
    ...fast,
    OCR_API_URL: stack.apiUrl,
    OCR_TOKEN: stack.workerToken,
    OCR_LANES: 'R',
    OCR_CONCURRENCY: String(opts.runs),
    PORT: '0',
  };
  const doomed = stack.spawnOcr('worker', { ...workerEnv, OCR_WORKER_ID: 'doomed' });
  let rescuer: ReturnType<typeof stack.spawnOcr> | undefined;
  try {
    // Let the sweeper take the lead and finish its warm-up before the clock starts.
    await new Promise((r) => setTimeout(r, (opts.timeoutS + 2 * opts.intervalS) * 1000));
    await stack.admin.runs.createBatch(
      Array.from({ length: opts.runs }, () => ({ template: 'bench-sleep', lane: 'R' })),
    );
    await until(async () => {
      const { rows } = await stack.db.pool.query(
        `SELECT count(*)::int AS n FROM runs WHERE status = 'running'`,
      );
      return rows[0].n >= opts.runs;
    }, 30_000);
    const { rows: killRow } = await stack.db.pool.query('SELECT now() AS t');
    doomed.kill('SIGKILL');
    // Started at the kill: its boot overlaps the heartbeat timeout (a rescuer started earlier would take the
    // runs itself, or the doomed worker would finish them while it boots).
    rescuer = stack.spawnOcr('worker', { ...workerEnv, OCR_WORKER_ID: 'rescuer' });
    await until(
      async () => {
        const { rows } = await stack.db.pool.query(
          `SELECT count(*)::int AS n FROM runs WHERE status = 'success'`,
        );
        return rows[0].n >= opts.runs;
      },
      120_000,
      100,
    );
    const { rows } = await stack.db.pool.query(
      `SELECT extract(epoch FROM (SELECT min(e.ts) FROM run_timeline e WHERE e.run_id = r.id AND e.type = 'requeued') - $1::timestamptz)::float8 AS requeued,
              extract(epoch FROM r.finished_at - $1::timestamptz)::float8 AS completed
       FROM runs r`,
      [killRow[0].t],
    );
    rescuer.kill('SIGTERM');
    if (rescuer.exitCode === null) await once(rescuer, 'exit');
    const requeued = rows.map((r: { requeued: number }) => r.requeued);
    const completed = rows.map((r: { completed: number }) => r.completed);
    return {
      requeuedP50: percentile(requeued, 50),
      requeuedP99: percentile(requeued, 99),
      completedP50: percentile(completed, 50),
      completedP99: percentile(completed, 99),
      limitS: opts.timeoutS + opts.intervalS + 1,
    };
  } finally {
    sweeper.kill('SIGTERM');
    if (doomed.exitCode === null) doomed.kill('SIGKILL');
    if (rescuer && rescuer.exitCode === null) rescuer.kill('SIGKILL');
  }
}
