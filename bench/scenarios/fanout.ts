import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { forkShard, type Shard } from '../lib/shard.js';
import { percentile } from '../lib/stats.js';
import type { BenchStack } from '../lib/stack.js';
import { leasedRuns } from './events.js';
import type { FromFanoutShard, ToFanoutShard } from './fanout-shard.js';

const SHARD = fileURLToPath(new URL('./fanout-shard.ts', import.meta.url));

export interface FanoutResult {
  p50: number;
  p99: number;
  kbPerConnection: number;
  /** Live JS memory (heap used + external) growth per connection, after a full GC: steadier than RSS. */
  heapKbPerConnection: number;
  delivered: number;
  /** Processes holding the subscribers. */
  shards: number;
}

/**
 * `POST /v1/runs/:id/events` as the worker sends it (plain HTTP over a keep-alive connection, a ready JSON
 * body), the event's send time stamped as the request is ended (its body handed to node:http); resolves
 * when answered 200.
 * Not the typed client's `fetch`: it cost the bench ~0.8 ms of CPU per append (web streams for each body)
 * and a round's 100 appends queued behind each other in the bench's one event loop, so the last append of a
 * round left the bench a whole round's worth of driver CPU after its stamp (measured: 76–82 ms per round with
 * fetch, 24–30 with this, at load 13–19). That queue is the driver's, not the fan-out's: each worker sends its
 * own appends.
 */
function appender(apiUrl: string, token: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const append = (runId: string, leaseToken: string, seq: number) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        `${apiUrl}/v1/runs/${runId}/events`,
        {
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`append answered ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      const event = { seq, level: 'info', type: 'log', message: String(Date.now()) };
      req.end(JSON.stringify({ lease_token: leaseToken, events: [event] }));
    });
  return { append, close: () => agent.destroy() };
}

/** A forked subscriber shard (fanout-shard.ts). */
function startShard(): Shard<FromFanoutShard, ToFanoutShard> {
  return forkShard(SHARD, 'fan-out shard');
}

/**
 * `subscribers` WebSocket clients spread over `runs` runs, held by `shards` child processes
 * (fanout-shard.ts; default one per core); events appended through the API (`appender`) carry their send
 * time; append → delivered latency measured at each subscriber. Memory per connection is the API process's RSS
 * growth divided by the number of connections, both readings right after a full GC in the API (without it,
 * garbage of the previous scenario collected in between made the figure negative), and the same for live JS
 * memory (heap used + external), which does not depend on when V8 returns pages to the OS.
 */
export async function wsFanout(
  stack: BenchStack,
  opts: { subscribers: number; runs: number; events: number; shards?: number },
): Promise<FanoutResult> {
  await stack.reset();
  const appends = appender(stack.apiUrl, stack.workerToken);
  const leases = await leasedRuns(stack, opts.runs);
  const rssBefore = await stack.memoryAfterGcKb(stack.api);
  const url = stack.apiUrl.replace('http', 'ws') + '/v1/stream';
  const n = Math.max(1, Math.min(opts.shards ?? cpus().length, opts.subscribers));
  const shards = Array.from({ length: n }, startShard);
  try {
    const subscribed = shards.map((s) => s.next('subscribed'));
    const done = shards.map((s) => s.next('done'));
    shards.forEach((shard, i) => {
      const runs: string[] = [];
      for (let s = i; s < opts.subscribers; s += n) runs.push(leases[s % leases.length]!.runId);
      const start: ToFanoutShard = {
        type: 'start',
        url,
        token: stack.adminToken,
        runs,
        expectedPerSubscriber: opts.events,
      };
      shard.tell(start);
    });
    // Every subscriber has its `subscribed` answer: the feeds are joined before the first append.
    await Promise.all(subscribed);
    const rssAfter = await stack.memoryAfterGcKb(stack.api);
    for (let seq = 1; seq <= opts.events; seq++) {
      await Promise.all(leases.map((l) => appends.append(l.runId, l.lease, seq)));
      await new Promise((r) => setTimeout(r, 20));
    }
    // All delivered, or 30 s: whatever is missing then counts as not delivered.
    await Promise.race([Promise.all(done), new Promise((r) => setTimeout(r, 30_000))]);
    const results = await Promise.all(
      shards.map((shard) => {
        const answer = shard.next('results');
        shard.tell({ type: 'collect' });
        return answer;
      }),
    );
    const latencies = results.flatMap((r) => r.latencies);
    const delivered = results.reduce((sum, r) => sum + r.delivered, 0);
    return {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      kbPerConnection: (rssAfter.rss - rssBefore.rss) / opts.subscribers,
      heapKbPerConnection: (rssAfter.heap - rssBefore.heap) / opts.subscribers,
      delivered: delivered / (opts.events * opts.subscribers),
      shards: n,
    };
  } finally {
    appends.close();
    for (const shard of shards) if (shard.child.exitCode === null) shard.child.kill('SIGKILL');
  }
}
