// Peer benchmark: graphile-worker (installed into bench/.scratch by the bench runner, not a product
// dependency). Bulk-adds N no-op jobs while a tuned runner (batched local queue) works them; prints JSON.
import { createRequire } from 'node:module';
const require = createRequire(process.env.PEER_DIR + '/');
const { run, quickAddJob, makeWorkerUtils } = require('graphile-worker');
const pg = require('pg');

const N = Number(process.env.JOBS);
const url = process.env.DATABASE_URL;
const pool = new pg.Pool({ connectionString: url, max: 12 });
const latencies = [];
let done = 0;
let resolveDone;
const finished = new Promise((r) => (resolveDone = r));
const runner = await run({
  pgPool: pool,
  concurrency: 24,
  noHandleSignals: true,
  pollInterval: 1000,
  preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 1, failJobBatchDelay: 1 } },
  taskList: {
    noop: async (payload) => {
      if (payload.t) latencies.push(Date.now() - payload.t);
      if (++done === N) resolveDone();
    },
  },
});
await quickAddJob({ pgPool: pool }, 'noop', {}); // warm-up job
done = 0;
const started = Date.now();
const utils = await makeWorkerUtils({ pgPool: pool });
for (let i = 0; i < N; i += 1000) {
  const size = Math.min(1000, N - i);
  await utils.addJobs(Array.from({ length: size }, () => ({ identifier: 'noop', payload: {} })));
}
await finished;
const throughput = N / ((Date.now() - started) / 1000);
// Latency: one job at a time at 50/s, enqueue → start.
done = 0;
const M = Number(process.env.LATENCY_JOBS);
let resolveLat;
const latDone = new Promise((r) => (resolveLat = r));
const check = setInterval(() => latencies.length >= M && resolveLat(), 20);
for (let i = 0; i < M; i++) {
  await quickAddJob({ pgPool: pool }, 'noop', { t: Date.now() });
  await new Promise((r) => setTimeout(r, 20));
}
await latDone;
clearInterval(check);
await utils.release();
await runner.stop();
await pool.end();
latencies.sort((a, b) => a - b);
const p = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
process.stdout.write(JSON.stringify({ throughput, p50: p(0.5), p99: p(0.99) }) + '\n');
process.exit(0);
