import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { createClient, type OcrClient } from '@ocr/client';
import { percentile } from '../lib/stats.js';
import { type BenchStack, until } from '../lib/stack.js';

export interface FleetConfig {
  /** Simulated workers, each with one claim parked (long-poll) at all times. */
  workers: number;
  /** Running runs, spread over the workers, heartbeating at `heartbeatS`. */
  running: number;
  heartbeatS: number;
  /** Log lines per second arriving, from one chatty run per worker, flushed every `flushMs` per run. */
  linesPerSecond: number;
  flushMs: number;
  /** Runs created one at a time during the window (claim latency probes). */
  probesPerSecond: number;
  seconds: number;
  /** API processes sharing the fleet (1 or 2): workers are spread over them round-robin. */
  apis: 1 | 2;
}

export interface FleetResult {
  apis: number;
  /** CPU of the API process(es), in cores (1.0 = one core busy), over the window. */
  apiCpu: number;
  claimP50: number;
  claimP99: number;
  heartbeatP50: number;
  heartbeatP99: number;
  /** Lines acknowledged per second, and the lag from a line's creation to its acknowledged append (ms). */
  linesPerSecond: number;
  lagP50: number;
  lagP99: number;
  /** Requests answered per second (claims, heartbeats, appends, completions). */
  requestsPerSecond: number;
  /** Requests that failed in transport (reset, timeout) over the window; retried as a worker would. */
  failedRequests: number;
}

/** utime + stime of a process, in seconds (from /proc; clock ticks are 100/s on Linux). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * The fleet scenario: `workers` simulated workers over HTTP (this process, not worker processes: 1,000 real
 * ones would not fit on the machine), each holding a claim parked on the probe lane, its share of `running`
 * leases heartbeating (one batch request per worker per interval, jittered), and one chatty run appending
 * log lines. Probe runs created one at a time measure created → claimed under that load; the simulated
 * worker that gets one completes it at once and parks again.
 */
export async function fleet(stack: BenchStack, cfg: FleetConfig): Promise<FleetResult> {
  await stack.reset();
  // (Node's fetch opens as many sockets per origin as there are requests in flight: one parked claim per
  // simulated worker, plus its heartbeats and appends.)
  const extra: { url: string; process: ChildProcess }[] = [];
  if (cfg.apis === 2) extra.push(await stack.startExtraApi());
  const urls = [stack.apiUrl, ...extra.map((e) => e.url)];
  const pids = [stack.api.pid!, ...extra.map((e) => e.process.pid!)];
  const clients: OcrClient[] = urls.map((baseUrl) =>
    createClient({ baseUrl, token: stack.workerToken, timeoutMs: 120_000 }),
  );
  const clientOf = (i: number) => clients[i % clients.length]!;
  try {
    // The running runs, claimed by their workers.
    for (let i = 0; i < cfg.running; i += 1000)
      await stack.admin.runs.createBatch(
        Array.from({ length: Math.min(1000, cfg.running - i) }, () => ({
          template: 'bench-noop',
          lane: 'fleet-run',
        })),
      );
    const perWorker = Math.ceil(cfg.running / cfg.workers);
    const leases: { run_id: string; lease_token: string }[][] = [];
    for (let w = 0; w < cfg.workers; w += 50) {
      const claimed = await Promise.all(
        Array.from({ length: Math.min(50, cfg.workers - w) }, (_, i) =>
          clientOf(w + i).worker.claim({
            worker_id: `fleet-${w + i}`,
            lanes: ['fleet-run'],
            limit: perWorker,
          }),
        ),
      );
      for (const { runs } of claimed)
        leases.push(runs.map((r) => ({ run_id: r.run.id, lease_token: r.lease_token })));
    }
    const stop = new AbortController();
    // Every parked claim listens on it.
    setMaxListeners(0, stop.signal);
    const heartbeatMs: number[] = [];
    const lagMs: number[] = [];
    let lines = 0;
    let requests = 0;
    let failed = 0;
    // A request that fails in transport (a reset keep-alive socket under a thousand connections) is counted
    // and tried again next round, as a worker does; it must not end the scenario.
    const counted = async <T>(request: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await request();
      } catch {
        if (!stop.signal.aborted) failed++;
        return undefined;
      }
    };
    const loops: Promise<void>[] = [];
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const wake = () => (clearTimeout(timer), resolve());
        const timer = setTimeout(() => (stop.signal.removeEventListener('abort', wake), resolve()), ms);
        stop.signal.addEventListener('abort', wake, { once: true });
      });

    for (let w = 0; w < cfg.workers; w++) {
      const client = clientOf(w);
      const mine = leases[w]!;
      // Parked claim on the probe lane; a probe run is completed at once.
      loops.push(
        (async () => {
          while (!stop.signal.aborted) {
            const { runs } = await client.worker
              .claim(
                { worker_id: `fleet-${w}`, lanes: ['fleet-probe'], limit: 1, wait_ms: 2_000 },
                stop.signal,
              )
              .catch(() => ({ runs: [] }));
            requests++;
            if (runs.length > 0) {
              await counted(() =>
                client.worker.completeMany(
                  runs.map((r) => ({
                    run_id: r.run.id,
                    lease_token: r.lease_token,
                    status: 'success' as const,
                  })),
                ),
              );
              requests++;
            }
          }
        })(),
      );
      // Heartbeats: one batch per worker per interval, ±20 % jitter as the worker does.
      loops.push(
        (async () => {
          await sleep(Math.random() * cfg.heartbeatS * 1000);
          while (!stop.signal.aborted && mine.length > 0) {
            const sent = performance.now();
            if (await counted(() => client.worker.heartbeatMany(mine))) {
              heartbeatMs.push(performance.now() - sent);
              requests++;
            }
            await sleep(cfg.heartbeatS * 1000 * (0.8 + 0.4 * Math.random()));
          }
        })(),
      );
      // The chatty run: lines created at a steady rate, appended every flushMs.
      const chatty = mine[0];
      if (chatty) {
        const perWorkerRate = cfg.linesPerSecond / cfg.workers;
        loops.push(
          (async () => {
            let seq = 0;
            let owed = 0;
            await sleep(Math.random() * cfg.flushMs);
            let last = performance.now();
            while (!stop.signal.aborted) {
              const now = performance.now();
              owed += ((now - last) / 1000) * perWorkerRate;
              last = now;
              const n = Math.floor(owed);
              if (n > 0) {
                owed -= n;
                // The oldest line of the batch was created one flush interval ago (at the steady rate).
                const oldest = now - Math.min(cfg.flushMs, (n / perWorkerRate) * 1000);
                const events = Array.from({ length: n }, () => ({
                  seq: ++seq,
                  level: 'info' as const,
                  type: 'log',
                  message: 'x'.repeat(80),
                  data: { stream: 'stdout' },
                }));
                // A failed append is sent again with the next lines (same seqs: appends are idempotent).
                if (
                  await counted(() => client.worker.appendEvents(chatty.run_id, chatty.lease_token, events))
                ) {
                  lagMs.push(performance.now() - oldest);
                  lines += n;
                  requests++;
                } else {
                  seq -= n;
                  owed += n;
                }
              }
              await sleep(cfg.flushMs);
            }
          })(),
        );
      }
    }

    // Let every loop start, then measure a window.
    await new Promise((r) => setTimeout(r, Math.min(3_000, cfg.heartbeatS * 1000)));
    heartbeatMs.length = 0;
    lagMs.length = 0;
    lines = 0;
    requests = 0;
    failed = 0;
    const cpu0 = await Promise.all(pids.map(cpuSeconds));
    const t0 = performance.now();
    const probes = Math.round(cfg.probesPerSecond * cfg.seconds);
    let probesLost = 0;
    for (let i = 0; i < probes; i++) {
      const due = t0 + (i * 1000) / cfg.probesPerSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      void stack.admin.runs
        .create({ template: 'bench-noop', lane: 'fleet-probe' })
        .catch(() => (probesLost++, failed++));
    }
    const left = t0 + cfg.seconds * 1000 - performance.now();
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu1 = await Promise.all(pids.map(cpuSeconds));
    const window = { lines, requests, failed, heartbeats: [...heartbeatMs], lag: [...lagMs] };
    await until(async () => {
      const { rows } = await stack.db.pool.query(
        `SELECT count(*)::int AS n FROM runs WHERE lane = 'fleet-probe' AND started_at IS NOT NULL`,
      );
      return rows[0].n >= probes - probesLost;
    }, 120_000);
    stop.abort();
    await Promise.allSettled(loops);
    const { rows } = await stack.db.pool.query(
      `SELECT extract(epoch FROM started_at - created_at)::float8 * 1000 AS ms FROM runs WHERE lane = 'fleet-probe'`,
    );
    const claims = rows.map((r: { ms: number }) => r.ms);
    return {
      apis: cfg.apis,
      apiCpu: cpu1.reduce((sum, c, i) => sum + c - cpu0[i]!, 0) / elapsed,
      claimP50: percentile(claims, 50),
      claimP99: percentile(claims, 99),
      heartbeatP50: percentile(window.heartbeats, 50),
      heartbeatP99: percentile(window.heartbeats, 99),
      linesPerSecond: window.lines / elapsed,
      lagP50: percentile(window.lag, 50),
      lagP99: percentile(window.lag, 99),
      requestsPerSecond: window.requests / elapsed,
      failedRequests: window.failed,
    };
  } finally {
    for (const e of extra) {
      e.process.kill('SIGTERM');
      if (e.process.exitCode === null) await new Promise((r) => e.process.once('exit', r));
    }
  }
}
