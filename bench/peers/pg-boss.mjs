// Peer benchmark: pg-boss (installed into bench/.scratch by the bench runner, not a product dependency).
// Prints JSON with: drain (DRAIN_JOBS inserted first, then worked), concurrent (JOBS inserted while the
// worker works them), and send → start latency of one job at a time at 50/s.
import { createRequire } from 'node:module';
const require = createRequire(process.env.PEER_DIR + '/');
const PgBossModule = require('pg-boss');
const PgBoss = PgBossModule.default ?? PgBossModule;

const N = Number(process.env.JOBS);
const DRAIN = Number(process.env.DRAIN_JOBS ?? N);
const M = Number(process.env.LATENCY_JOBS);
const boss = new PgBoss({ connectionString: process.env.DATABASE_URL, max: 12, schema: 'pgboss_bench' });
boss.on('error', () => undefined);
await boss.start();
await boss.createQueue('noop');
let done = 0;
const latencies = [];
let resolveDone;
let target = Infinity;
let finished;
const expect = (n) => {
  done = 0;
  target = n;
  finished = new Promise((r) => (resolveDone = r));
};
const insertAll = async (n) => {
  for (let i = 0; i < n; i += 1000)
    await boss.insert(Array.from({ length: Math.min(1000, n - i) }, () => ({ name: 'noop', data: {} })));
};

await insertAll(DRAIN);
expect(DRAIN);
const drainStarted = Date.now();
await boss.work('noop', { batchSize: 100, pollingIntervalSeconds: 0.5 }, async (jobs) => {
  for (const job of jobs) if (job.data?.t) latencies.push(Date.now() - job.data.t);
  done += jobs.length;
  if (done >= target) resolveDone();
});
await finished;
const drain = DRAIN / ((Date.now() - drainStarted) / 1000);

expect(N);
const started = Date.now();
await insertAll(N);
await finished;
const concurrent = N / ((Date.now() - started) / 1000);

expect(M);
for (let i = 0; i < M; i++) {
  await boss.send('noop', { t: Date.now() });
  await new Promise((r) => setTimeout(r, 20));
}
await finished;
await boss.stop({ graceful: false, wait: false });
latencies.sort((a, b) => a - b);
const p = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
process.stdout.write(
  JSON.stringify({ drain, concurrent, throughput: concurrent, p50: p(0.5), p99: p(0.99) }) + '\n',
);
process.exit(0);
