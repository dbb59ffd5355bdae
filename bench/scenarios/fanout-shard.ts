/**
 * A share of the fan-out scenario's WebSocket subscribers, in a process of its own (forked by fanout.ts with
 * an IPC channel): 1,000 subscribers parsed on the bench's single event loop queued behind each other and the
 * appends, so the measured latency included the driver's own backlog. Each subscriber follows one run and
 * records, per `log` event, now − the send time the event carries (same machine, same clock).
 */
import WebSocket from 'ws';

export interface FanoutShardStart {
  type: 'start';
  url: string;
  token: string;
  /** The run each of this shard's subscribers follows. */
  runs: string[];
  /** Log events each subscriber should receive: the shard reports `done` when all have arrived. */
  expectedPerSubscriber: number;
}

export type ToFanoutShard = FanoutShardStart | { type: 'collect' };

export type FromFanoutShard =
  { type: 'subscribed' } | { type: 'done' } | { type: 'results'; latencies: number[]; delivered: number };

function send(message: FromFanoutShard): void {
  process.send!(message);
}

async function run(start: FanoutShardStart): Promise<void> {
  const latencies: number[] = [];
  let delivered = 0;
  let subscribed = 0;
  const expected = start.expectedPerSubscriber * start.runs.length;
  const sockets: WebSocket[] = [];
  start.runs.forEach((runId, i) => {
    const socket = new WebSocket(start.url, { headers: { authorization: `Bearer ${start.token}` } });
    socket.on('message', (raw) => {
      const msg = JSON.parse(String(raw));
      if (msg.type === 'ready')
        socket.send(JSON.stringify({ type: 'subscribe', topic: 'run', run_id: runId, after_seq: 0 }));
      else if (msg.type === 'subscribed' && ++subscribed === start.runs.length) send({ type: 'subscribed' });
      else if (msg.type === 'event' && msg.event.type === 'log') {
        latencies.push(Date.now() - Number(msg.event.message));
        if (++delivered === expected) send({ type: 'done' });
      }
    });
    socket.on('error', (err) => process.stderr.write(`fan-out subscriber ${i}: ${err.message}\n`));
    sockets.push(socket);
  });
  process.on('message', (message: ToFanoutShard) => {
    if (message.type !== 'collect') return;
    for (const s of sockets) s.terminate();
    send({ type: 'results', latencies, delivered });
    process.disconnect();
  });
}

process.once('message', (message: ToFanoutShard) => {
  if (message.type === 'start') void run(message);
});
// The parent gone (crash, SIGKILL) means nobody will ever collect: end with it.
process.on('disconnect', () => process.exit(0));
