/**
 * One shard of the fleet scenario's simulated workers, in a process of its own (forked by fleet.ts with an
 * IPC channel): 1,000 simulated workers in the bench process made the bench, not the API, the bottleneck.
 * Plain `node:http` with a keep-alive agent per API (cheaper per request than fetch); each simulated worker
 * holds a claim parked on the probe lane, heartbeats its leases in one batch per interval, and appends its
 * chatty run's lines every flush. Samples (heartbeat latency, line lag) are reported to the parent on
 * request, for the window the parent marks.
 */
import { setMaxListeners } from 'node:events';
import { Agent, request } from 'node:http';

export interface ShardWorker {
  index: number;
  /** Which API (index into `urls`) this worker talks to. */
  api: number;
  leases: { run_id: string; lease_token: string }[];
}

export interface ShardStart {
  type: 'start';
  urls: string[];
  token: string;
  workers: ShardWorker[];
  /** Per simulated worker. */
  linesPerSecond: number;
  heartbeatS: number;
  flushMs: number;
}

export type ToShard = ShardStart | { type: 'mark' } | { type: 'collect' } | { type: 'stop' };

export interface ShardWindow {
  type: 'window';
  heartbeats: number[];
  lag: number[];
  lines: number;
  requests: number;
  failed: number;
  /** Failures by cause: HTTP status (`429`, `503`…) or transport error code (`ECONNRESET`…). */
  causes: Record<string, number>;
}

/** `warm`: every loop of every simulated worker has had one answer, so every connection it needs is open. */
export type FromShard = { type: 'ready' } | { type: 'warm' } | ShardWindow | { type: 'stopped' };

/** Lines per append at most: the worker's default `OCR_EVENT_BATCH`. */
const EVENT_BATCH = 500;

/** Samples kept per shard and window: enough for a p99, bounded so a long window cannot bloat the IPC. */
const MAX_SAMPLES = 50_000;

function send(message: FromShard): void {
  process.send!(message);
}

function run(start: ShardStart): { mark(): void; collect(): ShardWindow; stop(): Promise<void> } {
  const stop = new AbortController();
  // Every request in flight listens on it (one parked claim per worker, plus heartbeats and appends).
  setMaxListeners(0, stop.signal);
  const agents = start.urls.map(
    () => new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 100_000 }),
  );
  const authorization = `Bearer ${start.token}`;
  let heartbeats: number[] = [];
  let lag: number[] = [];
  let lines = 0;
  let requests = 0;
  let failed = 0;
  let causes: Record<string, number> = {};

  /** POST JSON, resolve with the parsed answer; a non-2xx answer or a transport error rejects. */
  const post = (api: number, path: string, body: unknown): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const payload = JSON.stringify(body);
      const url = new URL(path, start.urls[api]);
      const req = request(
        url,
        {
          method: 'POST',
          agent: agents[api],
          headers: {
            authorization,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            accept: 'application/json',
          },
          signal: stop.signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            if ((res.statusCode ?? 500) >= 300)
              reject(
                Object.assign(new Error(`${path}: ${res.statusCode} ${text}`), {
                  code: String(res.statusCode),
                }),
              );
            else resolve(text ? JSON.parse(text) : undefined);
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });

  // A request that fails (a reset keep-alive socket, a refusal) is counted and tried again next round, as a
  // worker does; it must not end the scenario.
  const counted = async (call: () => Promise<unknown>): Promise<unknown> => {
    try {
      return await call();
    } catch (err) {
      if (!stop.signal.aborted) {
        failed++;
        const cause = String((err as { code?: unknown }).code ?? 'other');
        causes[cause] = (causes[cause] ?? 0) + 1;
      }
      return undefined;
    }
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stop.signal.aborted) return resolve();
      const wake = () => (clearTimeout(timer), resolve());
      const timer = setTimeout(() => (stop.signal.removeEventListener('abort', wake), resolve()), ms);
      stop.signal.addEventListener('abort', wake, { once: true });
    });
  const keep = (samples: number[], value: number) => {
    if (samples.length < MAX_SAMPLES) samples.push(value);
  };

  const loops: Promise<void>[] = [];
  // Loops that have not had an answer yet; the shard says `warm` when none is left.
  let cold = 0;
  const answered = () => {
    let first = true;
    cold++;
    return () => {
      if (!first) return;
      first = false;
      if (--cold === 0) send({ type: 'warm' });
    };
  };
  for (const w of start.workers) {
    const { api, leases } = w;
    // Parked claim on the probe lane; a probe run is completed at once.
    const claimAnswered = answered();
    loops.push(
      (async () => {
        while (!stop.signal.aborted) {
          const answer = (await counted(() =>
            post(api, '/v1/runs/claim', {
              worker_id: `fleet-${w.index}`,
              lanes: ['fleet-probe'],
              limit: 1,
              wait_ms: 2_000,
            }),
          )) as { runs: { run: { id: string }; lease_token: string }[] } | undefined;
          if (!answer) {
            await sleep(100);
            continue;
          }
          claimAnswered();
          requests++;
          if (answer.runs.length > 0) {
            const done = await counted(() =>
              post(api, '/v1/runs/complete', {
                completions: answer.runs.map((r) => ({
                  run_id: r.run.id,
                  lease_token: r.lease_token,
                  status: 'success',
                })),
              }),
            );
            if (done) requests++;
          }
        }
      })(),
    );
    // Heartbeats: one batch per worker per interval, ±20 % jitter as the worker does.
    if (leases.length > 0) {
      const heartbeatAnswered = answered();
      loops.push(
        (async () => {
          await sleep(Math.random() * start.heartbeatS * 1000);
          while (!stop.signal.aborted) {
            const sent = performance.now();
            if (await counted(() => post(api, '/v1/runs/heartbeat', { leases }))) {
              keep(heartbeats, performance.now() - sent);
              heartbeatAnswered();
              requests++;
            }
            await sleep(start.heartbeatS * 1000 * (0.8 + 0.4 * Math.random()));
          }
        })(),
      );
    }
    // The chatty run: lines created at a steady rate, appended every flushMs in batches of at most
    // EVENT_BATCH, as the worker does; lines a failed append did not deliver go again with the next batch.
    const chatty = leases[0];
    if (chatty && start.linesPerSecond > 0) {
      const rate = start.linesPerSecond;
      const path = `/v1/runs/${chatty.run_id}/events`;
      const appendAnswered = answered();
      loops.push(
        (async () => {
          await sleep(Math.random() * start.flushMs);
          // Line k (1-based) is created at `first + k / rate`; `sent` lines have been acknowledged.
          const first = performance.now();
          let sent = 0;
          while (!stop.signal.aborted) {
            const created = Math.floor(((performance.now() - first) / 1000) * rate);
            const n = Math.min(created - sent, EVENT_BATCH);
            if (n > 0) {
              const events = Array.from({ length: n }, (_, i) => ({
                seq: sent + i + 1,
                level: 'info',
                type: 'log',
                message: 'x'.repeat(80),
                data: { stream: 'stdout' },
              }));
              if (await counted(() => post(api, path, { lease_token: chatty.lease_token, events }))) {
                keep(lag, performance.now() - (first + ((sent + 1) / rate) * 1000));
                appendAnswered();
                sent += n;
                lines += n;
                requests++;
                if (created - sent >= EVENT_BATCH) continue; // behind: the next batch at once
              }
            }
            await sleep(start.flushMs);
          }
        })(),
      );
    }
  }
  return {
    mark() {
      heartbeats = [];
      lag = [];
      lines = requests = failed = 0;
      causes = {};
    },
    collect() {
      return { type: 'window', heartbeats, lag, lines, requests, failed, causes };
    },
    async stop() {
      stop.abort();
      await Promise.allSettled(loops);
      for (const agent of agents) agent.destroy();
    },
  };
}

let shard: ReturnType<typeof run> | undefined;
process.on('message', (message: ToShard) => {
  if (message.type === 'start') {
    shard = run(message);
    send({ type: 'ready' });
  } else if (message.type === 'mark') shard?.mark();
  else if (message.type === 'collect') send(shard!.collect());
  else if (message.type === 'stop')
    void (shard?.stop() ?? Promise.resolve()).then(() => {
      send({ type: 'stopped' });
      process.disconnect();
    });
});
// The parent gone (crash, SIGKILL) means nobody will ever stop this shard: end with it.
process.on('disconnect', () => process.exit(0));
