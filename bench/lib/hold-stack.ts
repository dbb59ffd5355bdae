/**
 * The bench stack held up for tests/bench/bench-hygiene.test.ts: starts what `npm run bench` starts (the API,
 * a worker, a fleet shard; a scratch Postgres when DATABASE_URL is unset), prints the pids of everything it
 * started as one JSON line, then waits to be signalled (SIGINT, SIGTERM), or on SIGUSR2 crashes with an uncaught exception.
 */
import { startBenchStack, until } from './stack.js';
import { trackedPids } from './children.js';
import { startShard } from '../scenarios/fleet.js';

const stack = await startBenchStack();
stack.spawnOcr('worker', {
  OCR_API_URL: stack.apiUrl,
  OCR_TOKEN: stack.workerToken,
  OCR_WORKER_ID: 'hold-stack',
  OCR_LANES: 'hold',
  PORT: '0',
});
// Registered: the worker is up and long-polling, not still starting.
await until(async () => {
  const { rows } = await stack.db.pool.query('SELECT count(*)::int AS n FROM workers');
  return rows[0].n >= 1;
}, 60_000);
const shard = startShard();
const ready = shard.next('ready');
shard.tell({
  type: 'start',
  urls: [stack.apiUrl],
  token: stack.workerToken,
  workers: [],
  linesPerSecond: 0,
  heartbeatS: 3,
  flushMs: 200,
});
await ready;
// SIGUSR2 stands for a bug: an exception nobody catches, thrown once the test has seen every child running.
process.on('SIGUSR2', () => {
  throw new Error('hold-stack: a crash, as asked');
});
process.stdout.write(JSON.stringify({ pids: trackedPids() }) + '\n');
setInterval(() => undefined, 60_000);
