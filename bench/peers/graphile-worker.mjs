// Peer benchmark: graphile-worker (installed into bench/.scratch by the bench runner, not a product
// dependency), tuned as its docs advise: a pool larger than the concurrency (every concurrent job and the
// local queue need a connection), a batched local queue and batched completions. Prints JSON with:
// drain (DRAIN_JOBS enqueued first, then worked), concurrent (JOBS bulk-added while the runner works them),
// and enqueue → start latency of one job at a time at 50/s.
import { createRequire } from 'node:module';
const require = createRequire(process.env.PEER_DIR + '/');
const { run, quickAddJob, makeWorkerUtils } = require('graphile-worker');
const pg = require('pg');

const N = Number(process.env.JOBS);
const DRAIN = Number(process.env.DRAIN_JOBS ?? N);
const CONCURRENCY = 24;
const url = process.env.DATABASE_URL;
const pool = new pg.Pool({ connectionString: url, max: CONCURRENCY + 8 });
const latencies = [];
let done = 0;
let target = Infinity;
let resolveDone;
let finished;
const expect = (n) => {
  done = 0;
  target = n;
  finished = new Promise((r) => (resolveDone = r));
};
const options = {
  pgPool: pool,
  concurrency: CONCURRENCY,
  noHandleSignals: true,
  pollInterval: 1000,
  preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 1, failJobBatchDelay: 1 } },
  taskList: {
    noop: async (payload) => {
      if (payload.t) latencies.push(Date.now() - payload.t);
      if (++done === target) resolveDone();
    },
  },
};
const utils = await makeWorkerUtils({ pgPool: pool });
await utils.migrate();
const addAll = async (n) => {
  for (let i = 0; i < n; i += 1000) {
    const size = Math.min(1000, n - i);
    await utils.addJobs(Array.from({ length: size }, () => ({ identifier: 'noop', payload: {} })));
  }
};

// Drain: everything enqueued first, then one runner works it off.
await addAll(DRAIN);
expect(DRAIN);
const drainStarted = Date.now();
let runner = await run(options);
await finished;
const drain = DRAIN / ((Date.now() - drainStarted) / 1000);

// Concurrent: the runner is up and idle, jobs are bulk-added while it works them.
expect(N);
const started = Date.now();
await addAll(N);
await finished;
const concurrent = N / ((Date.now() - started) / 1000);

// Latency: one job at a time at 50/s, enqueue → start.
expect(Number(process.env.LATENCY_JOBS));
for (let i = 0; i < target; i++) {
  await quickAddJob({ pgPool: pool }, 'noop', { t: Date.now() });
  await new Promise((r) => setTimeout(r, 20));
}
await finished;
await utils.release();
await runner.stop();
await pool.end();
latencies.sort((a, b) => a - b);
const p = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
process.stdout.write(
  JSON.stringify({ drain, concurrent, throughput: concurrent, p50: p(0.5), p99: p(0.99) }) + '\n',
);
process.exit(0);
