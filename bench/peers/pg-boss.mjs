// Peer benchmark: pg-boss (installed into bench/.scratch by the bench runner, not a product dependency).
import { createRequire } from 'node:module';
const require = createRequire(process.env.PEER_DIR + '/');
const PgBossModule = require('pg-boss');
const PgBoss = PgBossModule.default ?? PgBossModule;

const N = Number(process.env.JOBS);
const M = Number(process.env.LATENCY_JOBS);
const boss = new PgBoss({ connectionString: process.env.DATABASE_URL, max: 12, schema: 'pgboss_bench' });
boss.on('error', () => undefined);
await boss.start();
await boss.createQueue('noop');
let done = 0;
const latencies = [];
let resolveDone;
let target = N;
let finished = new Promise((r) => (resolveDone = r));
await boss.work('noop', { batchSize: 100, pollingIntervalSeconds: 0.5 }, async (jobs) => {
  for (const job of jobs) if (job.data?.t) latencies.push(Date.now() - job.data.t);
  done += jobs.length;
  if (done >= target) resolveDone();
});
const started = Date.now();
for (let i = 0; i < N; i += 1000) {
  await boss.insert(Array.from({ length: Math.min(1000, N - i) }, () => ({ name: 'noop', data: {} })));
}
await finished;
const throughput = N / ((Date.now() - started) / 1000);
done = 0;
target = M;
finished = new Promise((r) => (resolveDone = r));
for (let i = 0; i < M; i++) {
  await boss.send('noop', { t: Date.now() });
  await new Promise((r) => setTimeout(r, 20));
}
await finished;
await boss.stop({ graceful: false, wait: false });
latencies.sort((a, b) => a - b);
const p = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
process.stdout.write(JSON.stringify({ throughput, p50: p(0.5), p99: p(0.99) }) + '\n');
process.exit(0);
