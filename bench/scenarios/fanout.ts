import { once } from 'node:events';
import WebSocket from 'ws';
import { createClient } from '@ocr/client';
import { percentile } from '../lib/stats.js';
import type { BenchStack } from '../lib/stack.js';
import { leasedRuns } from './events.js';

export interface FanoutResult {
  p50: number;
  p99: number;
  kbPerConnection: number;
  delivered: number;
}

/**
 * `subscribers` WebSocket clients spread over `runs` runs; events appended through the API carry their
 * send time; append → delivered latency measured at each subscriber. Memory per connection is the API
 * process's RSS growth divided by the number of connections, both readings right after a full GC in the API
 * (without it, garbage of the previous scenario collected in between made the figure negative).
 */
export async function wsFanout(
  stack: BenchStack,
  opts: { subscribers: number; runs: number; events: number },
): Promise<FanoutResult> {
  await stack.reset();
  const worker = createClient({ baseUrl: stack.apiUrl, token: stack.workerToken });
  const leases = await leasedRuns(stack, opts.runs);
  const rssBefore = await stack.rssAfterGcKb(stack.api);
  const url = stack.apiUrl.replace('http', 'ws') + '/v1/stream';
  const latencies: number[] = [];
  let delivered = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < opts.subscribers; i++) {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    const target = leases[i % leases.length]!;
    socket.on('message', (raw) => {
      const msg = JSON.parse(String(raw));
      if (msg.type === 'ready')
        socket.send(JSON.stringify({ type: 'subscribe', topic: 'run', run_id: target.runId, after_seq: 0 }));
      if (msg.type === 'event' && msg.event.type === 'log') {
        latencies.push(Date.now() - Number(msg.event.message));
        delivered++;
      }
    });
    sockets.push(socket);
    if (i % 100 === 99) await once(socket, 'open');
  }
  await Promise.all(sockets.map((s) => (s.readyState === WebSocket.OPEN ? undefined : once(s, 'open'))));
  await new Promise((r) => setTimeout(r, 500));
  const rssAfter = await stack.rssAfterGcKb(stack.api);
  const expected = opts.events * opts.subscribers;
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
  const deadline = Date.now() + 30_000;
  while (delivered < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const s of sockets) s.terminate();
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    kbPerConnection: (rssAfter - rssBefore) / opts.subscribers,
    delivered: delivered / expected,
  };
}
