import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Backoff, sleep, type Logger } from '@ocr/runtime';
import { Heartbeats } from './heartbeats.js';
import type { WorkerMetrics } from './metrics.js';
import type { ClaimedRun, WorkerProtocol } from './protocol.js';
import { RunExecution, type RunEnd } from './run-execution.js';
import type { WorkerConfig } from './config.js';
import { createExecutorRegistry, type ExecutorRegistry } from './executors/index.js';
import { createSecretSource, type SecretSource } from './secrets.js';
import { dockerStepsRefused } from './executors/docker-refused.js';

/** How long a busy worker with only a few free slots waits for more before claiming. */
const CLAIM_LINGER_MS = 5;

/** Why a job-mode worker stopped on its own: its run quota is spent, or it found nothing to do for a while. */
export type JobModeExit = 'max_runs' | 'idle';

export interface WorkerDeps {
  api: WorkerProtocol;
  config: Readonly<WorkerConfig>;
  log: Logger;
  metrics?: WorkerMetrics;
  version?: string;
  executors?: ExecutorRegistry;
  /** Where `{{secrets.NAME}}` values come from; by default the config's OCR_SECRET_* and OCR_SECRETS_DIR. */
  secrets?: SecretSource;
}

/**
 * The worker: a claim loop that long-polls for runs of its lanes while it has free slots, a heartbeat
 * loop for every live lease, and graceful drain. Emits `run.started` / `run.finished` (runId, end) so
 * tests and metrics follow along without polling.
 */
export class Worker extends EventEmitter {
  /** Stable id (survives restarts) + boot nonce (does not): the API releases a previous boot's leases. */
  readonly id: string;
  readonly bootId = randomUUID();
  private readonly active = new Map<string, RunExecution>();
  private readonly heartbeats: Heartbeats;
  private readonly executors: ExecutorRegistry;
  private readonly secrets: SecretSource;
  /** The parent of every run's logger (one child for the worker's life, not one per run). */
  private readonly runLog: Logger;
  private claiming = false;
  /** The API's lease length, from the latest claim reply. */
  private leaseTimeoutMs = 15_000;
  private loop: Promise<void> | undefined;
  private claimAbort = new AbortController();
  private slotFreed: (() => void) | undefined;
  /** Runs claimed since start: job mode stops claiming at OCR_MAX_RUNS. */
  private claimedTotal = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private exitReason: JobModeExit | undefined;
  private resolveExit!: (reason: JobModeExit) => void;
  /**
   * Resolves when job mode is done: OCR_MAX_RUNS runs claimed and all of them finished, or no run in
   * progress for OCR_EXIT_WHEN_IDLE_S. Never resolves in Deployment mode (both 0).
   */
  readonly exhausted = new Promise<JobModeExit>((resolve) => (this.resolveExit = resolve));

  constructor(private readonly deps: WorkerDeps) {
    super();
    this.id = deps.config.OCR_WORKER_ID;
    this.runLog = deps.log.child({ workerId: this.id });
    this.secrets =
      deps.secrets ??
      createSecretSource({
        env: deps.config.secretVariables ?? {},
        dir: deps.config.OCR_SECRETS_DIR,
        log: deps.log,
      });
    this.executors = deps.executors ?? this.defaultExecutors();
    // The interval is the API's, told in every claim reply; this default only matters before the first one.
    this.heartbeats = new Heartbeats(deps.api, 3_000, deps.log, (ok) =>
      deps.metrics?.heartbeats.inc({ result: ok ? 'ok' : 'failed' }),
    );
  }

  /** The built-in executors under this worker's settings; docker only where OCR_DOCKER_STEPS declares it. */
  private defaultExecutors(): ExecutorRegistry {
    const { config } = this.deps;
    const registry = createExecutorRegistry({
      http: {
        allowPrivate: config.OCR_HTTP_ALLOW_PRIVATE,
        stepsMayAllowPrivate: config.OCR_HTTP_STEPS_MAY_ALLOW_PRIVATE,
      },
      mcp: { allowPrivate: config.OCR_HTTP_ALLOW_PRIVATE },
      docker: {
        user: config.OCR_DOCKER_USER,
        networks: config.OCR_DOCKER_NETWORKS.split(','),
        capAllowlist: config.OCR_DOCKER_CAP_ALLOWLIST ? config.OCR_DOCKER_CAP_ALLOWLIST.split(',') : [],
        maxMemoryMb: config.OCR_DOCKER_MAX_MEMORY_MB,
        maxCpus: config.OCR_DOCKER_MAX_CPUS,
        maxPids: config.OCR_DOCKER_MAX_PIDS,
      },
      specKitGit: {
        schemes: config.OCR_SPEC_KIT_GIT_SCHEMES.split(',').map((s) => s.trim()),
        allowPrivate: config.OCR_HTTP_ALLOW_PRIVATE,
        ...(config.OCR_SPEC_KIT_ROOT ? { pathRoot: config.OCR_SPEC_KIT_ROOT } : {}),
      },
    });
    if (!config.OCR_DOCKER_STEPS) registry.register('docker', dockerStepsRefused(config.lanes));
    return registry;
  }

  get running(): number {
    return this.active.size;
  }

  get isClaiming(): boolean {
    return this.claiming;
  }

  /** Runs claimed since start. */
  get claimed(): number {
    return this.claimedTotal;
  }

  start(): void {
    if (this.claiming || this.exitReason) return;
    this.claiming = true;
    this.claimAbort = new AbortController();
    this.loop = this.claimLoop();
    this.armIdleTimer();
  }

  /** Stop claiming (the loop's pending long-poll is aborted); runs keep going. */
  async stopClaiming(): Promise<void> {
    this.claiming = false;
    this.disarmIdleTimer();
    this.claimAbort.abort();
    this.slotFreed?.();
    await this.loop;
  }

  /**
   * Graceful drain: stop claiming, let runs finish within `graceMs` (heartbeats continue), then hand the
   * rest back (`release`, reason worker_shutdown: requeued at once, no attempt spent) and wait for them.
   */
  async drain(graceMs: number): Promise<void> {
    await this.stopClaiming();
    const deadline = Date.now() + graceMs;
    const all = () => Promise.all([...this.active.values()].map((run) => run.done));
    if (this.active.size > 0) {
      this.deps.log.info({ runs: this.active.size, graceMs }, 'draining: waiting for runs to finish');
      await Promise.race([all(), sleep(Math.max(0, deadline - Date.now() - 1000))]);
    }
    if (this.active.size > 0) {
      this.deps.log.warn({ runs: this.active.size }, 'grace running out: handing runs back');
      for (const run of this.active.values()) run.release('worker_shutdown');
      await all();
    }
    this.disarmIdleTimer();
    this.heartbeats.stop();
  }

  private async claimLoop(): Promise<void> {
    const { api, config, log, metrics } = this.deps;
    const claimBackoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
    let lingered = false;
    while (this.claiming) {
      const quota = config.OCR_MAX_RUNS > 0 ? config.OCR_MAX_RUNS - this.claimedTotal : Infinity;
      if (quota <= 0) {
        // Job mode: the quota is spent. Stop claiming; the last run to finish ends the process.
        log.info({ claimed: this.claimedTotal }, 'max runs claimed: no more claims');
        this.claiming = false;
        this.disarmIdleTimer();
        this.finishIfDone();
        break;
      }
      const free = Math.min(config.OCR_CONCURRENCY - this.active.size, quota);
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        this.slotFreed = undefined;
        continue;
      }
      // Busy and only a few slots free: linger a moment for more, so claims stay batches (each claim is a
      // request and a commit) instead of one per finished run. An idle worker claims at once.
      const batch = Math.min(config.OCR_CLAIM_BATCH, config.OCR_CONCURRENCY, quota);
      if (this.active.size > 0 && free < batch / 2 && !lingered) {
        lingered = true;
        await sleep(CLAIM_LINGER_MS, this.claimAbort.signal);
        continue;
      }
      lingered = false;
      try {
        const started = performance.now();
        const reply = await api.claim(
          {
            worker_id: this.id,
            boot_id: this.bootId,
            lanes: config.lanes,
            limit: Math.min(free, config.OCR_CLAIM_BATCH),
            wait_ms: config.OCR_CLAIM_WAIT_MS,
            version: this.deps.version ?? '0.1.0',
            concurrency: config.OCR_CONCURRENCY,
          },
          this.claimAbort.signal,
        );
        claimBackoff.reset();
        // Monotonic: a process frozen (SIGSTOP, a paused VM) while its claim was parked sees the freeze here.
        const tookMs = performance.now() - started;
        this.heartbeats.setInterval(reply.heartbeat_interval_s * 1000);
        this.leaseTimeoutMs = reply.heartbeat_timeout_s * 1000;
        metrics?.claimSeconds.observe(tookMs / 1000);
        log.debug({ claimed: reply.runs.length, ms: Math.round(tookMs) }, 'claim returned');
        const staleAfterMs = (reply.heartbeat_timeout_s - 2 * reply.heartbeat_interval_s) * 1000;
        const runs =
          reply.runs.length > 0 && tookMs > staleAfterMs
            ? await this.confirmLeases(reply.runs, tookMs)
            : reply.runs;
        this.claimedTotal += runs.length;
        for (const item of runs) this.launch(item);
      } catch (err) {
        if (!this.claiming) break;
        const delay = claimBackoff.next();
        log.warn({ err, retryInMs: delay }, 'claim failed');
        await sleep(delay, this.claimAbort.signal);
      }
    }
  }

  /**
   * Job mode's idle exit: armed whenever no run is in progress, disarmed when one starts. Firing aborts the
   * parked long-poll; the API hands back any run it claimed for a claimer that went away (claim_abandoned),
   * and a run whose claim answer still arrives is launched and drained like any other.
   */
  private armIdleTimer(): void {
    const idleS = this.deps.config.OCR_EXIT_WHEN_IDLE_S;
    if (idleS <= 0 || !this.claiming || this.active.size > 0) return;
    this.disarmIdleTimer();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.active.size > 0 || !this.claiming) return;
      this.deps.log.info({ idleS, claimed: this.claimedTotal }, 'idle: no more claims');
      void this.stopClaiming().then(() => this.finish('idle'));
    }, idleS * 1000);
  }

  private disarmIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Job mode: the quota is spent and nothing is running any more. */
  private finishIfDone(): void {
    const max = this.deps.config.OCR_MAX_RUNS;
    if (max > 0 && this.claimedTotal >= max && this.active.size === 0) this.finish('max_runs');
  }

  private finish(reason: JobModeExit): void {
    if (this.exitReason) return;
    this.exitReason = reason;
    this.resolveExit(reason);
  }

  /**
   * A claim that took longer than the lease can be trusted for (its reply may have waited in a socket while
   * this process was frozen, and the sweeper may have handed the runs to another worker since): confirm
   * each lease with a heartbeat before running a single step. A lease the API no longer knows is dropped
   * unstarted; if the API cannot be asked, none start (the sweeper requeues them).
   */
  private async confirmLeases(runs: ClaimedRun[], tookMs: number): Promise<ClaimedRun[]> {
    const { api, log } = this.deps;
    try {
      const results = await api.heartbeat(
        runs.map((r) => ({ run_id: r.run.id, lease_token: r.lease_token })),
      );
      const ok = new Set(results.filter((r) => r.ok).map((r) => r.run_id));
      const lost = runs.filter((r) => !ok.has(r.run.id)).map((r) => r.run.id);
      if (lost.length > 0)
        log.warn({ runs: lost, claimMs: Math.round(tookMs) }, 'claimed lease already lost: not started');
      return runs.filter((r) => ok.has(r.run.id));
    } catch (err) {
      log.warn(
        { err, runs: runs.map((r) => r.run.id), claimMs: Math.round(tookMs) },
        'late claim reply could not be confirmed: not started',
      );
      return [];
    }
  }

  private launch(claimed: ClaimedRun): void {
    const execution = this.createExecution(claimed);
    this.disarmIdleTimer();
    this.active.set(execution.runId, execution);
    this.deps.metrics?.running.set(this.active.size);
    this.emit('run.started', execution.runId);
    void execution.done
      .catch((err: unknown): RunEnd => {
        this.deps.log.error({ err, runId: execution.runId }, 'run ended with an error');
        return 'error';
      })
      .then((end) => {
        this.active.delete(execution.runId);
        this.deps.metrics?.running.set(this.active.size);
        this.deps.metrics?.runs.inc({ end });
        this.emit('run.finished', execution.runId, end);
        this.slotFreed?.();
        this.armIdleTimer();
        this.finishIfDone();
      });
  }

  private createExecution(claimed: ConstructorParameters<typeof RunExecution>[0]): RunExecution {
    const { config, api } = this.deps;
    return new RunExecution(claimed, {
      api,
      executors: this.executors,
      heartbeats: this.heartbeats,
      log: this.runLog,
      workDir: config.OCR_WORK_DIR || undefined,
      killGraceMs: config.OCR_KILL_GRACE_S * 1000,
      flushMs: config.OCR_EVENT_FLUSH_MS,
      eventBatch: config.OCR_EVENT_BATCH,
      httpAllowPrivate: config.OCR_HTTP_ALLOW_PRIVATE,
      leaseTimeoutMs: this.leaseTimeoutMs,
      secrets: this.secrets,
      artifactRetryMs: config.OCR_ARTIFACT_RETRY_S * 1000,
    });
  }
}
