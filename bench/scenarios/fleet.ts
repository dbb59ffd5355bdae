import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createClient } from '@ocr/client';
import { forkShard, type Shard } from '../lib/shard.js';
import { percentile } from '../lib/stats.js';
import { type BenchStack, until } from '../lib/stack.js';
import type { FromShard, ShardWindow, ShardWorker, ToShard } from './fleet-shard.js';

const SHARD = fileURLToPath(new URL('./fleet-shard.ts', import.meta.url));

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
  /** Processes simulating the workers (fleet-shard.ts), each with its share; default one per core. */
  shards?: number;
}

export interface FleetResult {
  apis: number;
  shards: number;
  /** CPU of the API process(es), in cores (1.0 = one core busy), over the window. */
  apiCpu: number;
  /** CPU of the driver over the window, in cores: the simulated fleet (all shards) and this process. */
  driverCpu: number;
  /** Each process's CPU, in cores: API processes, then shards. */
  apiCpuEach: number[];
  shardCpuEach: number[];
  /** Whole-machine CPU in use over the window (from /proc/stat), in cores, and the machine's cores. */
  machineCpu: number;
  cores: number;
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
  /** Requests that failed in transport (reset, timeout) or were refused over the window; retried as a worker would. */
  failedRequests: number;
  /** The failures by cause (HTTP status or error code), most frequent first. */
  failureCauses: [string, number][];
  /** CPU of every `postgres` process on the machine (the server may hold other databases too), in cores. */
  postgresCpu: number;
  /**
   * Seconds from the shards' start until every simulated worker had an answer on each of its loops (its
   * connections open), or undefined when that did not happen within WARM_LIMIT_MS and the window started anyway.
   */
  warmupS: number | undefined;
  /**
   * Connections the kernel dropped over the window because a listening socket's accept queue was full
   * (`ListenOverflows`, whole machine): each costs its client a SYN retransmit, 1 s or more.
   */
  listenOverflows: number;
}

/** How long the fleet may take to open its connections before the window starts anyway. */
export const WARM_LIMIT_MS = 120_000;

/** utime + stime of a process, in seconds (from /proc; clock ticks are 100/s on Linux). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Busy CPU of the whole machine in seconds (all cores; /proc/stat, 100 ticks/s): user+nice+system+irq+softirq+steal. */
async function machineSeconds(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / 100;
}

/** utime + stime of every process named `postgres`, by pid, in seconds. */
async function postgresSeconds(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    if (!stat.includes('(postgres)')) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(name), (Number(fields[11]) + Number(fields[12])) / 100);
  }
  return out;
}

/** The kernel's count of connections dropped on a full accept queue, whole machine (`TcpExt: ListenOverflows`). */
async function listenOverflows(): Promise<number> {
  const lines = (await readFile('/proc/net/netstat', 'utf8')).split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(' ');
    const at = names.indexOf('ListenOverflows');
    if (names[0] === 'TcpExt:' && at > 0) return Number(lines[i + 1]!.split(' ')[at]);
  }
  return 0;
}

/** A forked fleet shard (fleet-shard.ts). */
export function startShard(): Shard<FromShard, ToShard> {
  return forkShard(SHARD, 'fleet shard');
}

/**
 * The fleet scenario: `workers` simulated workers over HTTP (not worker processes: 1,000 real ones would not
 * fit on the machine), each holding a claim parked on the probe lane, its share of `running` leases
 * heartbeating (one batch request per worker per interval, jittered), and one chatty run appending log lines.
 * The simulated workers run in `shards` child processes (fleet-shard.ts), so the driver is not the bench
 * process's single event loop. Probe runs created one at a time (here) measure created → claimed under that
 * load; the simulated worker that gets one completes it at once and parks again. CPU is read from /proc for
 * every API process, every shard and this process over the window, so the row shows who was saturated.
 */
export async function fleet(stack: BenchStack, cfg: FleetConfig): Promise<FleetResult> {
  await stack.reset();
  const extra: { url: string; process: ChildProcess }[] = [];
  const shards: Shard<FromShard, ToShard>[] = [];
  if (cfg.apis === 2) extra.push(await stack.startExtraApi());
  const urls = [stack.apiUrl, ...extra.map((e) => e.url)];
  const apiPids = [stack.api.pid!, ...extra.map((e) => e.process.pid!)];
  const clients = urls.map((baseUrl) =>
    createClient({ baseUrl, token: stack.workerToken, timeoutMs: 120_000 }),
  );
  try {
    // The running runs, claimed by their workers (set-up, not measured).
    for (let i = 0; i < cfg.running; i += 1000)
      await stack.admin.runs.createBatch(
        Array.from({ length: Math.min(1000, cfg.running - i) }, () => ({
          template: 'bench-noop',
          lane: 'fleet-run',
        })),
      );
    const perWorker = Math.ceil(cfg.running / cfg.workers);
    const workers: ShardWorker[] = [];
    for (let w = 0; w < cfg.workers; w += 50) {
      const claimed = await Promise.all(
        Array.from({ length: Math.min(50, cfg.workers - w) }, (_, i) =>
          clients[(w + i) % clients.length]!.worker.claim({
            worker_id: `fleet-${w + i}`,
            lanes: ['fleet-run'],
            limit: perWorker,
          }),
        ),
      );
      claimed.forEach(({ runs }, i) =>
        workers.push({
          index: w + i,
          api: (w + i) % clients.length,
          leases: runs.map((r) => ({ run_id: r.run.id, lease_token: r.lease_token })),
        }),
      );
    }

    const n = Math.max(1, Math.min(cfg.shards ?? cpus().length, cfg.workers));
    for (let i = 0; i < n; i++) shards.push(startShard());
    const warmStart = performance.now();
    const warmed: Promise<unknown>[] = [];
    await Promise.all(
      shards.map((shard, i) => {
        const ready = shard.next('ready');
        warmed.push(shard.next('warm'));
        shard.tell({
          type: 'start',
          urls,
          token: stack.workerToken,
          workers: workers.filter((_, w) => w % n === i),
          linesPerSecond: cfg.linesPerSecond / cfg.workers,
          heartbeatS: cfg.heartbeatS,
          flushMs: cfg.flushMs,
        });
        return ready;
      }),
    );

    // The window measures the fleet at work, not its start: 1,000 workers opening ~3,000 connections at once is
    // a connection storm (a fresh API, not the steady state the targets are about). It starts once every
    // simulated worker has had an answer on each of its loops.
    let warmTimer: NodeJS.Timeout | undefined;
    const allWarm = Promise.all(warmed);
    allWarm.catch(() => {}); // a shard that dies after the time limit fails the scenario elsewhere
    const warm = await Promise.race([
      allWarm.then(() => true),
      new Promise<false>((r) => (warmTimer = setTimeout(() => r(false), WARM_LIMIT_MS))),
    ]);
    clearTimeout(warmTimer);
    const warmupS = warm ? (performance.now() - warmStart) / 1000 : undefined;
    for (const shard of shards) shard.tell({ type: 'mark' });
    const overflows0 = await listenOverflows();
    const shardPids = shards.map((s) => s.child.pid!);
    const cpu0 = await Promise.all([...apiPids, ...shardPids, process.pid].map(cpuSeconds));
    const machine0 = await machineSeconds();
    const pg0 = await postgresSeconds();
    const t0 = performance.now();
    const probes = Math.round(cfg.probesPerSecond * cfg.seconds);
    let probesLost = 0;
    for (let i = 0; i < probes; i++) {
      const due = t0 + (i * 1000) / cfg.probesPerSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      void stack.admin.runs.create({ template: 'bench-noop', lane: 'fleet-probe' }).catch(() => probesLost++);
    }
    const left = t0 + cfg.seconds * 1000 - performance.now();
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu1 = await Promise.all([...apiPids, ...shardPids, process.pid].map(cpuSeconds));
    const machine1 = await machineSeconds();
    const pg1 = await postgresSeconds();
    const overflows1 = await listenOverflows();
    const windows: ShardWindow[] = await Promise.all(
      shards.map((shard) => {
        const answer = shard.next('window');
        shard.tell({ type: 'collect' });
        return answer;
      }),
    );
    await until(async () => {
      const { rows } = await stack.db.pool.query(
        `SELECT count(*)::int AS n FROM runs WHERE lane = 'fleet-probe' AND started_at IS NOT NULL`,
      );
      return rows[0].n >= probes - probesLost;
    }, 120_000);
    await Promise.all(
      shards.map((shard) => {
        const stopped = shard.next('stopped');
        shard.tell({ type: 'stop' });
        return stopped;
      }),
    );
    const { rows } = await stack.db.pool.query(
      `SELECT extract(epoch FROM started_at - created_at)::float8 * 1000 AS ms FROM runs WHERE lane = 'fleet-probe'`,
    );
    const claims = rows.map((r: { ms: number }) => r.ms);
    const cores = cpu1.map((c, i) => (c - cpu0[i]!) / elapsed);
    const apiCpuEach = cores.slice(0, apiPids.length);
    const shardCpuEach = cores.slice(apiPids.length, apiPids.length + shardPids.length);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const heartbeats = windows.flatMap((w) => w.heartbeats);
    const lag = windows.flatMap((w) => w.lag);
    const causes = new Map<string, number>();
    for (const w of windows)
      for (const [cause, count] of Object.entries(w.causes))
        causes.set(cause, (causes.get(cause) ?? 0) + count);
    if (probesLost > 0) causes.set('probe create', probesLost);
    return {
      apis: cfg.apis,
      shards: n,
      apiCpu: sum(apiCpuEach),
      driverCpu: sum(shardCpuEach) + cores.at(-1)!,
      apiCpuEach,
      shardCpuEach,
      machineCpu: (machine1 - machine0) / elapsed,
      cores: cpus().length,
      claimP50: percentile(claims, 50),
      claimP99: percentile(claims, 99),
      heartbeatP50: percentile(heartbeats, 50),
      heartbeatP99: percentile(heartbeats, 99),
      linesPerSecond: sum(windows.map((w) => w.lines)) / elapsed,
      lagP50: percentile(lag, 50),
      lagP99: percentile(lag, 99),
      requestsPerSecond: sum(windows.map((w) => w.requests)) / elapsed,
      failedRequests: sum(windows.map((w) => w.failed)) + probesLost,
      failureCauses: [...causes.entries()].sort((a, b) => b[1] - a[1]),
      postgresCpu: [...pg1].reduce((total, [pid, s1]) => total + s1 - (pg0.get(pid) ?? 0), 0) / elapsed,
      warmupS,
      listenOverflows: overflows1 - overflows0,
    };
  } finally {
    for (const shard of shards)
      if (shard.child.exitCode === null && shard.child.signalCode === null) {
        shard.child.kill('SIGKILL');
        await once(shard.child, 'exit');
      }
    for (const e of extra) {
      e.process.kill('SIGTERM');
      if (e.process.exitCode === null) await new Promise((r) => e.process.once('exit', r));
    }
  }
}
