/**
 * `npm run bench` — every benchmark of bench/README.md against a real Postgres, a real API process and real
 * worker processes; prints the figures and rewrites bench/RESULTS.md. `--quick` runs small sizes once (for
 * CI, so the benchmarks never rot) and writes bench/.scratch/RESULTS.quick.md instead. `--no-peers` skips
 * graphile-worker and pg-boss.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { fmt, fmtSpread, percentile, spread, type Spread } from './lib/stats.js';
import { startBenchStack } from './lib/stack.js';
import { physicalLimits } from './lib/pgbench.js';
import { bulkEnqueue, claimLatency, drain, endToEnd } from './scenarios/throughput.js';
import { fleet, WARM_LIMIT_MS, type FleetConfig, type FleetResult } from './scenarios/fleet.js';
import { eventIngestion } from './scenarios/events.js';
import { wsFanout } from './scenarios/fanout.js';
import { recovery } from './scenarios/recovery.js';
import { installPeers, runPeer, type PeerResult } from './peers/run-peer.js';

const quick = process.argv.includes('--quick');
// --only=a,b runs a subset (pgbench, bulk, e2e, drain, latency, events, fanout, recovery, fleet, peers) and writes
// bench/.scratch/RESULTS.only.md, never RESULTS.md: a partial run is for investigating, not for the record.
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const want = (name: string) => !only || only.includes(name);
const peers = !process.argv.includes('--no-peers') && !quick && want('peers');
const S = quick
  ? {
      reps: 1,
      e2eRuns: 300,
      fastRuns: 600,
      bulk: 2000,
      latencyRate: 50,
      latencyS: 2,
      events: 16_000,
      fanout: 100,
      fanoutEvents: 5,
      recoveryRuns: 3,
      pgbenchS: 2,
      peerJobs: 2000,
      peerDrain: { 'graphile-worker': 2000, 'pg-boss': 2000 },
      drainRuns: 600,
      fleet: { workers: 50, running: 500, linesPerSecond: 2000, seconds: 3 },
    }
  : {
      reps: 3,
      e2eRuns: 20_000,
      fastRuns: 20_000,
      bulk: 20_000,
      latencyRate: 50,
      latencyS: 10,
      events: 200_000,
      fanout: 1000,
      fanoutEvents: 20,
      recoveryRuns: 20,
      pgbenchS: 10,
      peerJobs: 20_000,
      // graphile-worker drains as the issue measured it (100,000 first); pg-boss at ~200/s would take minutes.
      peerDrain: { 'graphile-worker': 100_000, 'pg-boss': 20_000 },
      drainRuns: 20_000,
      fleet: { workers: 1000, running: 10_000, linesPerSecond: 50_000, seconds: 30 },
    };
/** The fleet scenario at this mode's size: default heartbeat interval (3 s), the worker's flush (200 ms). */
const FLEET: Omit<FleetConfig, 'apis'> = { ...S.fleet, heartbeatS: 3, flushMs: 200, probesPerSecond: 20 };

/** The fastest end-to-end configuration found (see bench/NOTES.md for how). */
const FAST = { runs: S.fastRuns, workers: 2, concurrency: 400, claimBatch: 200 };

const lines: string[] = [];
const out = (line = '') => {
  lines.push(line);
  process.stdout.write(line + '\n');
};

const t0 = performance.now();
/** Progress on stderr (the tables go to stdout and the file): which phase, and seconds since the start. */
function phase(name: string): void {
  process.stderr.write(`[bench ${fmt((performance.now() - t0) / 1000, 1)} s] ${name}\n`);
}

async function repeat(n: number, fn: () => Promise<number>): Promise<Spread> {
  const values: number[] = [];
  for (let i = 0; i < n; i++) values.push(await fn());
  return spread(values);
}

const stack = await startBenchStack();
try {
  const settings = await stack.db.pool.query(
    `SELECT name, setting, unit FROM pg_settings WHERE name IN ('server_version', 'shared_buffers', 'max_connections', 'fsync', 'synchronous_commit', 'wal_level') ORDER BY name`,
  );
  out(`# Benchmark results${quick ? ' (quick mode: small sizes, one repetition)' : ''}`);
  out();
  out(`- date: ${new Date().toISOString()}`);
  // The machine's own load before the run: on a shared machine every figure moves with it (bench/NOTES.md).
  out(`- load average before the run: ${loadAverage()} (1 / 5 / 15 min; a quiet machine is below 1)`);
  out(
    `- machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${fmt(totalmem() / 1024 ** 3, 0)} GiB, Node ${process.version}`,
  );
  out(
    `- postgres: ${settings.rows.map((r: { name: string; setting: string; unit: string | null }) => `${r.name}=${r.setting}${r.unit ?? ''}`).join(', ')}`,
  );
  out(
    `- layout: one Postgres, one API process, worker processes over HTTP, all on this machine; figures are medians (min–max, n repetitions)`,
  );
  out();

  const nan: Spread = { median: NaN, min: NaN, max: NaN, n: 0 };
  phase('pgbench physical limits');
  const limits = want('pgbench')
    ? await physicalLimits(stack.databaseUrl, S.pgbenchS, quick ? 200_000 : 2_000_000)
    : {};
  phase('bulk enqueue');
  const bulk = want('bulk')
    ? await repeat(S.reps, async () => {
        await stack.reset();
        return bulkEnqueue(stack, S.bulk);
      })
    : nan;
  phase('end-to-end, 2 workers × concurrency 10');
  const e2eBase = want('e2e')
    ? await repeat(S.reps, () =>
        endToEnd(stack, { runs: S.e2eRuns, workers: 2, concurrency: 10, claimBatch: 10 }),
      )
    : nan;
  phase('end-to-end, fastest configuration');
  const e2eFast = want('e2e') ? await repeat(S.reps, () => endToEnd(stack, FAST)) : nan;
  phase('drain (enqueued first, then worked), fastest configuration');
  const drained = want('drain')
    ? await repeat(S.reps, () => drain(stack, { ...FAST, runs: S.drainRuns }))
    : nan;
  phase('claim latency');
  const latencies: number[] = [];
  const clientLatencies: number[] = [];
  if (want('latency'))
    for (let i = 0; i < S.reps; i++) {
      const measured = await claimLatency(stack, { perSecond: S.latencyRate, seconds: S.latencyS });
      latencies.push(...measured.db);
      clientLatencies.push(...measured.client);
    }
  phase('event ingestion');
  const ev100 = want('events')
    ? await repeat(S.reps, () => eventIngestion(stack, { runs: 8, batch: 100, total: S.events }))
    : nan;
  const ev1000 = want('events')
    ? await repeat(S.reps, () => eventIngestion(stack, { runs: 8, batch: 1000, total: S.events }))
    : nan;
  phase('WebSocket fan-out');
  const noFan = {
    p50: NaN,
    p99: NaN,
    kbPerConnection: NaN,
    heapKbPerConnection: NaN,
    delivered: NaN,
    shards: 0,
  };
  const fanOne = want('fanout')
    ? await wsFanout(stack, { subscribers: S.fanout, runs: 1, events: S.fanoutEvents })
    : noFan;
  const fanMany = want('fanout')
    ? await wsFanout(stack, {
        subscribers: S.fanout,
        runs: Math.max(1, S.fanout / 10),
        events: S.fanoutEvents,
      })
    : noFan;
  phase('recovery');
  const rec = want('recovery')
    ? await recovery(stack, { runs: S.recoveryRuns, timeoutS: quick ? 3 : 5, intervalS: 1 })
    : { requeuedP50: NaN, requeuedP99: NaN, completedP50: NaN, completedP99: NaN, limitS: NaN };

  phase('fleet: one API process');
  const fleets: FleetResult[] = [];
  if (want('fleet')) {
    fleets.push(await fleet(stack, { ...FLEET, apis: 1 }));
    phase('fleet: two API processes');
    fleets.push(await fleet(stack, { ...FLEET, apis: 2 }));
  }

  let gw: PeerResult | undefined;
  let boss: PeerResult | undefined;
  if (peers) phase('peers');
  if (peers && (await installPeers())) {
    const serverUrl = new URL(stack.databaseUrl);
    serverUrl.pathname = '/postgres';
    gw = await runPeer(
      'graphile-worker',
      serverUrl.toString(),
      S.peerJobs,
      S.latencyRate * 4,
      S.peerDrain['graphile-worker'],
    ).catch((e) => (out(`graphile-worker failed: ${e.message}`), undefined));
    boss = await runPeer(
      'pg-boss',
      serverUrl.toString(),
      S.peerJobs,
      S.latencyRate * 4,
      S.peerDrain['pg-boss'],
    ).catch((e) => (out(`pg-boss failed: ${e.message}`), undefined));
  }
  phase('done');

  const ratio = (ours: number, theirs?: number) => (theirs ? `${fmt(ours / theirs, 2)}×` : 'n/a');
  const ofLimit = (ours: number, limit?: number) =>
    limit ? `${fmt((100 * ours) / limit, 1)} %` : 'n/a (pgbench missing)';
  out('## Figures');
  out();
  out('| benchmark | result | vs physical limit | vs graphile-worker | vs pg-boss |');
  out('|---|---|---|---|---|');
  out(
    `| physical limit: single-row INSERT+COMMIT (pgbench, 8 clients) | ${limits.insertTps ? fmt(limits.insertTps) + ' tx/s' : 'n/a'} | | | |`,
  );
  out(
    `| physical limit: claim-shaped UPDATE … SKIP LOCKED (pgbench, 8 clients) | ${limits.claimTps ? fmt(limits.claimTps) + ' tx/s' : 'n/a'} | | | |`,
  );
  out(
    `| 1. end-to-end no-op runs, 2 workers × concurrency 10 (${fmt(S.e2eRuns)} runs) | ${fmtSpread(e2eBase, 0, ' runs/s')} | ${ofLimit(e2eBase.median, limits.claimTps)} of claim tx/s | ${ratio(e2eBase.median, gw?.throughput)} | ${ratio(e2eBase.median, boss?.throughput)} |`,
  );
  out(
    `| 1. end-to-end no-op runs, fastest found: ${FAST.workers} workers × concurrency ${FAST.concurrency}, claim batch ${FAST.claimBatch} | ${fmtSpread(e2eFast, 0, ' runs/s')} | ${ofLimit(e2eFast.median, limits.claimTps)} of claim tx/s | ${ratio(e2eFast.median, gw?.throughput)} | ${ratio(e2eFast.median, boss?.throughput)} |`,
  );
  out(
    `| 2. bulk enqueue through POST /v1/runs/batch (1,000 per request, 4 in flight) | ${fmtSpread(bulk, 0, ' runs/s')} | ${ofLimit(bulk.median, limits.insertTps)} of single-row insert tx/s | | |`,
  );
  out(
    `| 3. claim latency, created → claimed at ${S.latencyRate}/s, idle long-polling workers (2 × 100 slots), database clock (started_at − created_at) | p50 ${fmt(percentile(latencies, 50), 1)} ms, p95 ${fmt(percentile(latencies, 95), 1)} ms, p99 ${fmt(percentile(latencies, 99), 1)} ms | | (peers: next row) | |`,
  );
  out(
    `| 3. enqueue → start as the peers measure it: driver's clock before POST /v1/runs → worker's clock at run.started | p50 ${fmt(percentile(clientLatencies, 50), 1)} ms, p95 ${fmt(percentile(clientLatencies, 95), 1)} ms, p99 ${fmt(percentile(clientLatencies, 99), 1)} ms | | ${gw ? `peer p50 ${fmt(gw.p50, 1)} / p99 ${fmt(gw.p99, 1)} ms` : 'n/a'} | ${boss ? `peer p50 ${fmt(boss.p50, 1)} / p99 ${fmt(boss.p99, 1)} ms` : 'n/a'} |`,
  );
  out(
    `| 4. event ingestion, batches of 100, 8 runs in parallel | ${fmtSpread(ev100, 0, ' events/s')} | | | |`,
  );
  out(
    `| 4. event ingestion, batches of 1,000, 8 runs in parallel | ${fmtSpread(ev1000, 0, ' events/s')} | | | |`,
  );
  out(
    `| 5. WebSocket fan-out, ${S.fanout} subscribers on one run (held by ${fanOne.shards} subscriber processes) | p50 ${fmt(fanOne.p50, 1)} ms, p99 ${fmt(fanOne.p99, 1)} ms, ${fmt(fanOne.kbPerConnection, 1)} KiB/connection RSS after GC (JS heap + external ${fmt(fanOne.heapKbPerConnection, 1)}), ${fmt(100 * fanOne.delivered, 1)} % delivered | | | |`,
  );
  out(
    `| 5. WebSocket fan-out, ${S.fanout} subscribers over ${Math.max(1, S.fanout / 10)} runs (held by ${fanMany.shards} subscriber processes) | p50 ${fmt(fanMany.p50, 1)} ms, p99 ${fmt(fanMany.p99, 1)} ms, ${fmt(fanMany.kbPerConnection, 1)} KiB/connection RSS after GC (JS heap + external ${fmt(fanMany.heapKbPerConnection, 1)}), ${fmt(100 * fanMany.delivered, 1)} % delivered | | | |`,
  );
  out(
    `| 6. recovery after SIGKILL (${S.recoveryRuns} runs): kill → requeued | p50 ${fmt(rec.requeuedP50, 2)} s, p99 ${fmt(rec.requeuedP99, 2)} s (limit ${rec.limitS} s) | | | |`,
  );
  out(
    `| 6. recovery after SIGKILL: kill → completed elsewhere (2 s step) | p50 ${fmt(rec.completedP50, 2)} s, p99 ${fmt(rec.completedP99, 2)} s | | | |`,
  );
  out(
    `| 1. drain: ${fmt(S.drainRuns)} no-op runs created first (lane paused), then worked, fastest configuration | ${fmtSpread(drained, 0, ' runs/s')} | ${ofLimit(drained.median, limits.claimTps)} of claim tx/s | ${ratio(drained.median, gw?.drain)} (drain) | ${ratio(drained.median, boss?.drain)} (drain) |`,
  );
  for (const f of fleets)
    out(
      `| 8. fleet, ${f.apis} API process${f.apis > 1 ? 'es' : ''}: ${fmt(FLEET.workers)} workers long-polling (simulated in ${f.shards} shard processes), ${fmt(FLEET.running)} runs heartbeating every ${FLEET.heartbeatS} s, ${fmt(FLEET.linesPerSecond)} log lines/s offered, ${FLEET.seconds} s | API CPU ${fmt(f.apiCpu, 2)} cores${f.apis > 1 ? ` (${f.apiCpuEach.map((c) => fmt(c, 2)).join(' + ')})` : ''}; driver CPU ${fmt(f.driverCpu, 2)} cores (shards ${f.shardCpuEach.map((c) => fmt(c, 2)).join(' + ')}); Postgres ${fmt(f.postgresCpu, 2)} cores; machine ${fmt(f.machineCpu, 2)} of ${f.cores} cores busy (all processes)${fleetBound(f)}; claim p50 ${fmt(f.claimP50, 1)} / p99 ${fmt(f.claimP99, 1)} ms; heartbeat p50 ${fmt(f.heartbeatP50, 1)} / p99 ${fmt(f.heartbeatP99, 1)} ms; ${fmt(f.linesPerSecond)} lines/s ingested, lag p50 ${fmt(f.lagP50, 0)} / p99 ${fmt(f.lagP99, 0)} ms; ${fmt(f.requestsPerSecond)} requests/s${f.failedRequests ? `, ${fmt(f.failedRequests)} failed (retried: ${f.failureCauses.map(([c, n]) => `${c} ×${fmt(n)}`).join(', ')})` : ''}; ${fmt(f.listenOverflows)} connections dropped on a full accept queue; window started ${f.warmupS === undefined ? `before every simulated worker had an answer (${WARM_LIMIT_MS / 1000} s limit)` : `${fmt(f.warmupS, 1)} s after the shards, once every simulated worker had an answer on each loop`} | | | |`,
    );
  if (fleets.length === 2)
    out(
      `| 8. fleet scale-out: 2 API processes ÷ 1 | requests/s ${fmt(fleets[1]!.requestsPerSecond / fleets[0]!.requestsPerSecond, 2)}×, lines/s ${fmt(fleets[1]!.linesPerSecond / fleets[0]!.linesPerSecond, 2)}×, API CPU ${fmt(fleets[1]!.apiCpu / fleets[0]!.apiCpu, 2)}× | | | |`,
    );
  if (gw)
    out(
      `| peer: graphile-worker 0.17, concurrency 24, pool 32 | drain ${fmt(gw.drain)} jobs/s (${fmt(S.peerDrain['graphile-worker'])} enqueued first); enqueue-and-work ${fmt(gw.concurrent)} jobs/s (${fmt(S.peerJobs)}); latency p50 ${fmt(gw.p50, 1)} ms / p99 ${fmt(gw.p99, 1)} ms | | | |`,
    );
  if (boss)
    out(
      `| peer: pg-boss 10, batch 100 | drain ${fmt(boss.drain)} jobs/s (${fmt(S.peerDrain['pg-boss'])} enqueued first); enqueue-and-work ${fmt(boss.concurrent)} jobs/s (${fmt(S.peerJobs)}); latency p50 ${fmt(boss.p50, 1)} ms / p99 ${fmt(boss.p99, 1)} ms | | | |`,
    );
  out();
  // The issue's targets (issue 19), each as a ratio or a figure from this one run.
  // Scaled-down sizes say nothing about a target: quick mode never calls one met.
  const verdict = (met: boolean | undefined) =>
    met === undefined ? 'n/a' : quick ? 'not judged (quick)' : met ? 'met' : 'missed';
  const gwRatio = gw ? drained.median / gw.drain : undefined;
  const p99 = percentile(latencies, 99);
  const fleet1 = fleets[0];
  out('## Targets');
  out();
  out(
    quick
      ? '_Quick mode: every size scaled down (fan-out 100 subscribers over 10 runs, fleet 50 workers); the targets are judged by the full run only._'
      : `_Fleet at the issue's scale: ${fmt(FLEET.workers)} simulated workers, ${fmt(FLEET.running)} running runs, ${fmt(FLEET.linesPerSecond)} lines/s offered (simulated in child processes of the bench, on the same cores as the API and Postgres: the fleet rows give every process's CPU)._`,
  );
  out();
  out('| target | this run | verdict |');
  out('|---|---|---|');
  out(
    `| end-to-end ≥ 0.5× tuned graphile-worker (drain) | ours ${fmt(drained.median)} runs/s drained vs graphile-worker ${gw ? fmt(gw.drain) : 'n/a'} jobs/s = ${gwRatio === undefined ? 'n/a' : fmt(gwRatio, 3) + '×'}; enqueue-and-work ${fmt(e2eFast.median)} vs ${gw ? fmt(gw.concurrent) : 'n/a'} = ${ratio(e2eFast.median, gw?.concurrent)} | ${verdict(gwRatio === undefined ? undefined : gwRatio >= 0.5)} |`,
  );
  out(
    `| claim latency p99 ≤ 6 ms at ${S.latencyRate} runs/s (p50 ≤ graphile-worker's) | created → claimed (database clock) p50 ${fmt(percentile(latencies, 50), 1)} / p99 ${fmt(p99, 1)} ms; enqueue → start as the peers measure it p50 ${fmt(percentile(clientLatencies, 50), 1)} / p99 ${fmt(percentile(clientLatencies, 99), 1)} ms${gw ? ` (graphile-worker p50 ${fmt(gw.p50, 1)} / p99 ${fmt(gw.p99, 1)})` : ''} | ${verdict(latencies.length ? p99 <= 6 : undefined)} |`,
  );
  out(
    `| event ingestion ≥ 100,000 events/s through the API | ${fmt(ev1000.median)} events/s (batches of 1,000), ${fmt(ev100.median)} (batches of 100) | ${verdict(Number.isFinite(ev1000.median) ? ev1000.median >= 100_000 : undefined)} |`,
  );
  out(
    `| fan-out over 100 runs p99 ≤ 100 ms at 1,000 subscribers | p99 ${fmt(fanMany.p99, 1)} ms (${S.fanout} subscribers over ${Math.max(1, S.fanout / 10)} runs) | ${verdict(Number.isFinite(fanMany.p99) ? fanMany.p99 <= 100 : undefined)} |`,
  );
  out(
    `| fleet claim p99 ≤ 25 ms on one API process | ${fleet1 ? `p99 ${fmt(fleet1.claimP99, 1)} ms (${fmt(FLEET.workers)} workers, ${fmt(FLEET.running)} runs, ${fmt(FLEET.linesPerSecond)} lines/s offered; API ${fmt(fleet1.apiCpu, 2)}, driver ${fmt(fleet1.driverCpu, 2)}, machine ${fmt(fleet1.machineCpu, 2)} of ${fleet1.cores} cores${fleetBound(fleet1)})` : 'n/a'} | ${verdict(fleet1 ? fleet1.claimP99 <= 25 : undefined)} |`,
  );
  out(
    `| pgbench limit (same server) | single-row INSERT ${limits.insertTps ? fmt(limits.insertTps) : 'n/a'} tx/s, claim-shaped UPDATE ${limits.claimTps ? fmt(limits.claimTps) : 'n/a'} tx/s | |`,
  );
  out();
  out('## Conditions');
  out();
  out(`- wall time of this run: ${fmt((performance.now() - t0) / 1000, 0)} s`);
  out(`- load average after the run: ${loadAverage()}`);
  out(
    `- everything (Postgres, the API${peers ? ', the peers' : ''}, the workers, the simulated fleet and subscribers, this driver) runs on these ${cpus().length} cores; other processes on the machine show in the load average`,
  );
  out();
  const file = fileURLToPath(
    new URL(
      only ? './.scratch/RESULTS.only.md' : quick ? './.scratch/RESULTS.quick.md' : './RESULTS.md',
      import.meta.url,
    ),
  );
  await mkdir(fileURLToPath(new URL('./.scratch', import.meta.url)), { recursive: true });
  await writeFile(file, lines.join('\n') + '\n' + (quick || only ? '' : await notes()));
  process.stdout.write(`\nwritten to ${file}\n`);
} finally {
  await stack.close();
}

async function notes(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(fileURLToPath(new URL('./NOTES.md', import.meta.url)), 'utf8').catch(() => '');
}

/**
 * What limited a fleet row, from its CPU figures: the whole machine (≥ 90 % of its cores busy: the API, its
 * Postgres, the simulated fleet and anything else on the machine competing), one API process (≥ 0.9 core:
 * its event loop), or a driver shard.
 */
function fleetBound(f: FleetResult): string {
  const limits: string[] = [];
  if (f.machineCpu >= 0.9 * f.cores)
    limits.push('machine CPU-bound: the figures are a floor, not the API alone');
  if (f.apiCpuEach.some((c) => c >= 0.9)) limits.push('API event loop saturated');
  if (f.shardCpuEach.some((c) => c >= 0.9)) limits.push('driver shard saturated');
  return limits.length ? ` (**${limits.join('; ')}**)` : '';
}

function loadAverage(): string {
  return loadavg()
    .map((l) => fmt(l, 2))
    .join(' / ');
}
