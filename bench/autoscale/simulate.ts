/**
 * `npm run simulate:autoscale` — the autoscaling rules of the production overlay, applied by a small
 * controller to a real API, Postgres, sweeper and real `ocr worker` processes. Two scenarios on one workload
 * (bursts of long and short runs, then idle):
 *   deployment — every run on the Deployment group (ScaledObject + HPA), as before job mode;
 *   job        — long runs on the job-mode lanes (ScaledJob, a pod per run), short runs on the Deployment group.
 * Every time (manifest periods, windows, graces, run durations) is multiplied by --scale (default 0.2) so the
 * run takes minutes; process start-up is not scaled, so it weighs 1/scale times more than on a cluster.
 * Prints the figures and rewrites the marked section of docs/scaling.md (--quick: small workload, scale 0.1,
 * nothing written; exits 1 if job mode interrupted a run).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startBenchStack, type BenchStack } from '../lib/stack.js';
import { fmt } from '../lib/stats.js';
import { ScaledObjectController, scaledJobsToStart } from './autoscalers.js';
import { Fleet, scaleDownVictims } from './fleet.js';
import { loadAutoscalingRules, metricValue } from './manifests.js';

const quick = process.argv.includes('--quick');
const scaleArg = process.argv.find((a) => a.startsWith('--scale='))?.slice('--scale='.length);
const SCALE = Number(scaleArg ?? (quick ? 0.1 : 0.2));
/** kube-controller-manager's --horizontal-pod-autoscaler-sync-period default: a cluster setting, not a manifest. */
const HPA_SYNC_S = 15;
const DOCS = fileURLToPath(new URL('../../docs/scaling.md', import.meta.url));

interface Burst {
  at: number;
  long: number;
  short: number;
}
/** Cluster seconds. Long runs last 60–120 s, short ones 5–20 s; the second burst lands while long runs of the first may still go. */
const WORKLOAD: Burst[] = quick
  ? [
      { at: 0, long: 3, short: 6 },
      { at: 150, long: 3, short: 3 },
    ]
  : [
      { at: 0, long: 8, short: 24 },
      { at: 240, long: 8, short: 8 },
      // A trickle of long runs while the fleet is still large from the bursts: they land on whichever pods
      // claim first, and are in progress when the scale-down window ends.
      ...Array.from({ length: 10 }, (_, i) => ({ at: 360 + 30 * i, long: 1, short: 0 })),
    ];

/** Deterministic durations (a small LCG), so both scenarios get the same runs. */
function durations(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

interface SimRun {
  id: string;
  kind: 'long' | 'short';
  burst: number;
}

interface Figures {
  scenario: string;
  firstClaimS: number[];
  peakDeploymentPods: number;
  peakJobPods: number;
  jobPodsStarted: number;
  jobPodsIdle: number;
  toZeroS: number;
  interrupted: { long: number; short: number };
  reExecuted: number;
  lostWorkS: number;
  killed: number;
  heartbeatLost: number;
  metricErrors: number;
  runs: number;
}

const rules = loadAutoscalingRules();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Read-only requests after a scenario: a loaded API may shed some (503); ask again. */
async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= 20) throw err;
      await sleep(500);
    }
  }
}

async function runScenario(stack: BenchStack, scenario: 'deployment' | 'job'): Promise<Figures> {
  await stack.reset();
  const fleet = new Fleet(
    {
      OCR_API_URL: stack.apiUrl,
      OCR_TOKEN: stack.workerToken,
      OCR_HEARTBEAT_INTERVAL_S: '3',
      OCR_HEARTBEAT_TIMEOUT_S: '15',
    },
    SCALE,
    `${scenario}-`,
  );
  const so = new ScaledObjectController(rules.deployment);
  const depGroup = rules.deployment.name;
  const jobGroup = rules.job.name;
  const t0 = Date.now();
  const now = () => (Date.now() - t0) / 1000 / SCALE;
  const random = durations(17);
  let replicas = 0;
  let nextPoll = 0;
  let nextHpa = 0;
  let nextJobPoll = 0;
  let nextStatus = 0;
  let peakDeploymentPods = 0;
  let peakJobPods = 0;
  let jobPodsStarted = 0;
  let zeroAt: number | undefined;
  const runs: SimRun[] = [];
  const burstWall: number[] = [];
  const open = new Set<string>();
  let lastFinish = 0;
  // A metrics request that fails (the API sheds load with 503 on a starved machine) changes nothing this
  // round, as a failed scaler does for KEDA and the HPA; it is counted and reported.
  let metricErrors = 0;
  const metric = async (locations: string[]): Promise<number | undefined> => {
    try {
      const m = await stack.admin.lanes.metrics();
      return locations.reduce((sum, loc) => sum + metricValue(m, loc), 0);
    } catch (err) {
      metricErrors++;
      process.stderr.write(
        `[simulate] metrics failed: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      return undefined;
    }
  };
  let lane = 0;
  for (;;) {
    const t = now();
    for (const [i, burst] of WORKLOAD.entries()) {
      if (burstWall[i] !== undefined || t < burst.at) continue;
      burstWall[i] = Date.now();
      const specs = [
        ...Array.from({ length: burst.long }, () => ({ kind: 'long' as const, seconds: 60 + 60 * random() })),
        ...Array.from({ length: burst.short }, () => ({
          kind: 'short' as const,
          seconds: 5 + 15 * random(),
        })),
      ];
      const created = await stack.admin.runs.createBatch(
        specs.map((s) => ({
          template: 'sim-sleep',
          params: { seconds: Number((s.seconds * SCALE).toFixed(2)) },
          lane:
            s.kind === 'long' && scenario === 'job'
              ? rules.job.lanes[0]!
              : rules.deployment.lanes[lane++ % rules.deployment.lanes.length]!,
        })),
      );
      created.runs.forEach((r, j) => {
        runs.push({ id: r.id, kind: specs[j]!.kind, burst: i });
        open.add(r.id);
      });
    }
    // KEDA: activation and scale to zero, every pollingInterval.
    if (t >= nextPoll) {
      nextPoll = t + rules.deployment.pollingInterval;
      const value = await metric(rules.deployment.metrics);
      const set = value === undefined ? undefined : so.keda(t, replicas, value);
      if (set !== undefined) replicas = set;
    }
    // HPA: between 1 and max, every sync period.
    if (t >= nextHpa) {
      nextHpa = t + HPA_SYNC_S;
      const value = replicas > 0 ? await metric(rules.deployment.metrics) : undefined;
      if (value !== undefined) replicas = so.hpa(t, replicas, value);
    }
    // ReplicaSet: create or delete pods to match.
    const current = fleet.replicas(depGroup);
    if (process.env.SIM_VERBOSE && current.length !== replicas)
      process.stderr.write(`[${fmt(t, 0)} s] ${depGroup}: ${current.length} → ${replicas}\n`);
    if (current.length < replicas)
      for (let i = current.length; i < replicas; i++) fleet.start(depGroup, rules.deployment.pod);
    if (current.length > replicas)
      for (const pod of scaleDownVictims(current, current.length - replicas))
        fleet.terminate(pod, rules.deployment.pod);
    // KEDA ScaledJob: start Jobs for queued runs of its lanes. A Job counts as running until its pod exits,
    // and as pending until its worker process has started: on a cluster the container's process starts in
    // about a second, well inside one polling interval, but here start-up is not scaled with the clock and
    // would otherwise span many polling intervals and multiply Jobs.
    if (scenario === 'job' && t >= nextJobPoll) {
      nextJobPoll = t + rules.job.pollingInterval;
      const jobs = fleet.alive(jobGroup);
      const pending = jobs.filter((p) => p.readyAt === undefined).length;
      const queue = await metric(rules.job.metrics);
      const start = queue === undefined ? 0 : scaledJobsToStart(rules.job, queue, jobs.length, pending);
      for (let i = 0; i < start; i++) fleet.start(jobGroup, rules.job.pod);
      jobPodsStarted += start;
    }
    peakDeploymentPods = Math.max(peakDeploymentPods, fleet.alive(depGroup).length);
    peakJobPods = Math.max(peakJobPods, fleet.alive(jobGroup).length);
    if (Date.now() >= nextStatus && open.size > 0) {
      nextStatus = Date.now() + 2000;
      for (const id of [...open]) {
        const run = await stack.admin.runs.get(id).then(
          (r) => r.run,
          () => undefined, // a shed request: ask again next round
        );
        if (!run) continue;
        if (['success', 'error', 'cancelled'].includes(run.status)) {
          open.delete(id);
          lastFinish = Math.max(lastFinish, Date.parse(run.finished_at!));
        }
      }
    }
    const allBursts = burstWall.length === WORKLOAD.length;
    if (allBursts && open.size === 0 && replicas === 0 && fleet.pods.every((p) => p.exitedAt !== undefined)) {
      zeroAt = Math.max(...fleet.pods.map((p) => p.exitedAt!), lastFinish);
      break;
    }
    if (t > 5000)
      throw new Error(`${scenario}: did not settle (open runs ${open.size}, replicas ${replicas})`);
    await sleep(50);
  }

  // Figures from the runs' own event logs.
  const firstClaim: number[] = WORKLOAD.map(() => Infinity);
  let interruptedLong = 0;
  let interruptedShort = 0;
  let reExecuted = 0;
  let lostWorkMs = 0;
  let heartbeatLost = 0;
  /** Pod name → when this controller deleted it (SIGTERM). */
  const deleted = new Map(
    fleet.pods.filter((p) => p.terminatingAt !== undefined).map((p) => [p.name, p.terminatingAt!]),
  );
  for (const run of runs) {
    const { events } = await retrying(() => stack.admin.runs.events(run.id, { limit: 5000 }));
    const claims = events.filter((e) => e.type === 'claimed');
    if (claims[0]) firstClaim[run.burst] = Math.min(firstClaim[run.burst]!, Date.parse(claims[0].ts));
    // Interrupted by a scale-down: handed back by a draining worker, or requeued by the sweeper after a pod
    // this controller deleted was SIGKILLed. A requeue from any other worker is a heartbeat lost to the
    // machine's load, counted apart.
    const byScaleDown = (e: { type: string; message: string; ts: string }) =>
      (e.type === 'released' && /worker_shutdown/.test(e.message)) ||
      (e.type === 'requeued' &&
        (deleted.get(/worker (\S+)/.exec(e.message)?.[1] ?? '') ?? Infinity) <= Date.parse(e.ts));
    heartbeatLost += events.filter((e) => e.type === 'requeued' && !byScaleDown(e)).length;
    const lost = events.filter(byScaleDown);
    if (lost.length > 0 || events.some((e) => e.type === 'requeued')) {
      const story = events
        .filter((e) => ['claimed', 'released', 'requeued', 'status'].includes(e.type))
        .map((e) => `${fmt((Date.parse(e.ts) - t0) / 1000 / SCALE, 0)} s ${e.type}: ${e.message}`);
      process.stderr.write(`[simulate] ${scenario} ${run.kind} run ${run.id}: ${story.join(' | ')}\n`);
    }
    if (lost.length > 0) {
      if (run.kind === 'long') interruptedLong++;
      else interruptedShort++;
      // An attempt is lost once however many events record it (a hand-back writes two): per claim, the
      // first scale-down event before the next claim.
      claims.forEach((claim, k) => {
        const next = claims[k + 1]?.seq ?? Infinity;
        const first = lost.find((l) => l.seq > claim.seq && l.seq < next);
        if (first) lostWorkMs += Date.parse(first.ts) - Date.parse(claim.ts);
      });
      if (claims.at(-1)!.seq > lost.at(-1)!.seq) reExecuted++;
    }
  }
  const jobPods = fleet.pods.filter((p) => p.group === jobGroup);
  const result: Figures = {
    scenario,
    firstClaimS: firstClaim.map((c, i) => (c - burstWall[i]!) / 1000 / SCALE),
    peakDeploymentPods,
    peakJobPods,
    jobPodsStarted,
    jobPodsIdle: 0,
    toZeroS: (zeroAt! - lastFinish) / 1000 / SCALE,
    interrupted: { long: interruptedLong, short: interruptedShort },
    reExecuted,
    lostWorkS: lostWorkMs / 1000 / SCALE,
    killed: fleet.pods.filter((p) => p.killed).length,
    heartbeatLost,
    metricErrors,
    runs: runs.length,
  };
  // A job pod that claimed nothing: started for a run another pod took first (it exits after OCR_EXIT_WHEN_IDLE_S).
  const claimers = new Set<string>();
  for (const run of runs) {
    const { events } = await retrying(() => stack.admin.runs.events(run.id, { limit: 5000 }));
    for (const e of events) if (e.type === 'claimed') claimers.add(e.message.replace(/^claimed by /, ''));
  }
  result.jobPodsIdle = jobPods.filter((p) => !claimers.has(p.name)).length;
  await fleet.stopAll();
  return result;
}

function report(all: Figures[]): string[] {
  const d = rules.deployment;
  const j = rules.job;
  const lines = [
    `Simulated ${new Date().toISOString().slice(0, 10)} with \`npm run simulate:autoscale\`${quick ? ' --quick' : ''}: real API, Postgres, sweeper`,
    `and \`ocr worker\` processes on one machine; the rules read from the rendered production overlay (ScaledObject`,
    `\`${d.name}\`: target ${d.target}/pod, polling ${d.pollingInterval} s, cooldown ${d.cooldownPeriod} s, scale-down window ${d.scaleDown.stabilizationWindowSeconds} s,`,
    `drain grace ${d.pod.env.OCR_SHUTDOWN_GRACE_S} s; ScaledJob \`${j.name}\`: ${j.strategy}, polling ${j.pollingInterval} s, lanes ${j.lanes.join(',')}). Every time was`,
    `multiplied by ${SCALE} and is shown here in cluster seconds; worker start-up (not scaled) therefore weighs ${fmt(1 / SCALE, 0)}× more than on a cluster.`,
    `Workload: ${WORKLOAD.filter((b) => b.long + b.short > 1)
      .map((b) => `at ${b.at} s, ${b.long} long (60–120 s) + ${b.short} short (5–20 s) runs`)
      .join(
        '; ',
      )}${WORKLOAD.some((b) => b.long + b.short === 1) ? `; then ${WORKLOAD.filter((b) => b.long + b.short === 1).length} single long runs, one every 30 s from ${WORKLOAD.find((b) => b.long + b.short === 1)!.at} s` : ''}; then idle. "Burst → first claim" is for the first two bursts.`,
    '',
    '| scenario | burst → first claim (s) | peak pods (Deployment / jobs) | job pods started (idle) | last run done → zero pods (s) | runs interrupted by scale-down (long / short) | re-executed | work thrown away (s) | SIGKILLed pods | heartbeats lost to load | failed metric polls |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...all.map(
      (f) =>
        `| ${f.scenario === 'job' ? 'job mode (long runs on ScaledJob)' : 'Deployment mode (all runs)'} | ${f.firstClaimS
          .slice(0, 2)
          .map((s) => fmt(s, 0))
          .join(
            ' / ',
          )} | ${f.peakDeploymentPods} / ${f.peakJobPods} | ${f.jobPodsStarted} (${f.jobPodsIdle}) | ${fmt(f.toZeroS, 0)} | ${f.interrupted.long} / ${f.interrupted.short} | ${f.reExecuted} | ${fmt(f.lostWorkS, 0)} | ${f.killed} | ${f.heartbeatLost} | ${f.metricErrors} |`,
    ),
  ];
  return lines;
}

const stack = await startBenchStack();
try {
  await stack.admin.templates.put({
    name: 'sim-sleep',
    params_schema: {
      type: 'object',
      properties: { seconds: { type: 'number', minimum: 0, maximum: 3600 } },
      required: ['seconds'],
    },
    steps: [{ name: 'work', kind: 'shell', script: 'sleep "$OCR_PARAM_SECONDS"' }],
  });
  const sweeper = stack.spawnOcr('sweeper', {
    PORT: '0',
    OCR_HEARTBEAT_INTERVAL_S: '3',
    OCR_HEARTBEAT_TIMEOUT_S: '15',
    OCR_SWEEP_INTERVAL_S: '1',
  });
  const all: Figures[] = [];
  for (const scenario of ['deployment', 'job'] as const) {
    process.stderr.write(`[simulate] ${scenario} mode…\n`);
    all.push(await runScenario(stack, scenario));
  }
  sweeper.kill('SIGTERM');
  const lines = report(all);
  process.stdout.write(lines.join('\n') + '\n');
  const job = all.find((f) => f.scenario === 'job')!;
  if (job.interrupted.long > 0) {
    process.stderr.write(`job mode interrupted ${job.interrupted.long} long runs\n`);
    process.exitCode = 1;
  }
  if (!quick) {
    const doc = await readFile(DOCS, 'utf8');
    const start = '<!-- simulate:autoscale:start -->';
    const end = '<!-- simulate:autoscale:end -->';
    const from = doc.indexOf(start);
    const to = doc.indexOf(end);
    if (from < 0 || to < 0) throw new Error('docs/scaling.md lacks the simulate:autoscale markers');
    await writeFile(DOCS, `${doc.slice(0, from + start.length)}\n${lines.join('\n')}\n${doc.slice(to)}`);
  }
} finally {
  await stack.close();
}
