import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createClient } from '@ocr/client';
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

/** A forked subscriber shard (fanout-shard.ts). */
function startShard(): Shard<FromFanoutShard, ToFanoutShard> {
  return forkShard(SHARD, 'fan-out shard');
}

/**
 * `subscribers` WebSocket clients spread over `runs` runs, held by `shards` child processes
 * (fanout-shard.ts; default one per core); events appended through the API carry their send time;
 * append → delivered latency measured at each subscriber. Memory per connection is the API process's RSS
 * growth divided by the number of connections, both readings right after a full GC in the API (without it,
 * garbage of the previous scenario collected in between made the figure negative), and the same for live JS
 * memory (heap used + external), which does not depend on when V8 returns pages to the OS.
 */
export async function wsFanout(
  stack: BenchStack,
  opts: { subscribers: number; runs: number; events: number; shards?: number },
): Promise<FanoutResult> {
  await stack.reset();
  const worker = createClient({ baseUrl: stack.apiUrl, token: stack.workerToken });
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
      await Promise.all(
        leases.map((l) =>
          worker.worker.appendEvents(l.runId, l.lease, [
            { seq, level: 'info', type: 'log', message: String(Date.now()) },
          ]),
        ),
      );
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
    for (const shard of shards) if (shard.child.exitCode === null) shard.child.kill('SIGKILL');
  }
}
