import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sanitizeJson } from '@ocr/contracts';
import { lazyChild, retry, type Logger } from '@ocr/runtime';
import { EventSink } from './event-sink.js';
import type { Heartbeats } from './heartbeats.js';
import type { ClaimedRun, WorkerProtocol } from './protocol.js';
import { runStep, type StepOutcome } from './step-runner.js';
import type { ExecutorRegistry } from './executors/index.js';
import { uploadArtifacts, type PendingArtifact, type StoreOptions } from './artifacts.js';
import { createRunApi } from './run-api.js';
import { createMasker, maskJson, secretParamValues, type Masker } from './secret-mask.js';
import { secretsForStep, type SecretSource, type SecretStore } from './secrets.js';

export interface RunExecutionOptions {
  api: WorkerProtocol;
  executors: ExecutorRegistry;
  heartbeats: Heartbeats;
  log: Logger;
  workDir?: string;
  killGraceMs: number;
  flushMs: number;
  eventBatch: number;
  httpAllowPrivate: boolean;
  /** The API's lease length (claim reply): how long a completion is worth retrying. */
  leaseTimeoutMs: number;
  /** How long storing one artifact is retried through outages (`OCR_ARTIFACT_RETRY_S`). */
  artifactRetryMs: number;
  /** The worker's secrets (`{{secrets.NAME}}`), read at the start of each run; none when absent. */
  secrets?: SecretSource;
}

/** How a run attempt ended, for metrics and tests. */
export type RunEnd = 'success' | 'error' | 'cancelled' | 'lease_lost' | 'released';

/**
 * One claimed run attempt, start to finish: steps in order through their executors, output streamed,
 * heartbeats kept, cancel and timeouts honoured, artifacts uploaded, and exactly one ending — complete,
 * release (shutdown), or silence (lease lost: a zombie writes nothing more).
 * Step outcomes become the run's outcome here and nowhere else.
 */
export class RunExecution {
  readonly runId: string;
  private readonly abort = new AbortController();
  private cancelRequested = false;
  private leaseLost = false;
  private releaseReason: string | undefined;
  private readonly sink: EventSink;
  /** Replaced once the run's secrets are loaded (before anything is sent); the sink always uses the current one. */
  private mask: Masker;
  private secrets: SecretStore = new Map();
  /** Uploads stop retrying once the run is stopped (cancel, shutdown, run timeout, lost lease). */
  private readonly store: StoreOptions;
  /**
   * The run's scratch directory, made by the first step that may use it (`ExecutorRegistry.usesWorkdir`):
   * a run of noop or http steps makes none. Removed when the run ends, however it ends.
   */
  private workdir: Promise<string> | undefined;
  readonly done: Promise<RunEnd>;

  constructor(
    private readonly claimed: ClaimedRun,
    private readonly options: RunExecutionOptions,
  ) {
    this.runId = claimed.run.id;
    // An error logged during the run (a failed request whose message quotes a rendered URL) is masked too.
    // Lazy: a run that logs nothing (most) makes no pino child.
    const log = lazyChild(
      options.log,
      { runId: this.runId, attempt: claimed.run.attempt, lane: claimed.run.lane },
      { serializers: { err: (err: unknown) => maskedError(err, (text) => this.mask(text)) } },
    );
    this.mask = createMasker(secretParamValues(claimed.run.params ?? {}, claimed.secret_params ?? []));
    this.store = { retryMs: options.artifactRetryMs, signal: this.abort.signal };
    this.sink = new EventSink(options.api, this.runId, claimed.lease_token, log, {
      masker: () => this.mask,
      flushMs: options.flushMs,
      batchSize: options.eventBatch,
      onLeaseLost: () => this.onLeaseLost(),
    });
    this.done = this.execute(log);
  }

  /** Stop the run and hand it back (worker shutdown). */
  release(reason: string): void {
    if (this.releaseReason || this.leaseLost) return;
    this.releaseReason = reason;
    this.abort.abort(new Error(reason));
  }

  private onCancelRequested(): void {
    if (this.cancelRequested) return;
    this.cancelRequested = true;
    this.sink.emit({
      level: 'warn',
      type: 'cancel.acknowledged',
      message: 'cancel acknowledged by the worker',
    });
    this.abort.abort(new Error('cancel requested'));
  }

  private onLeaseLost(): void {
    if (this.leaseLost) return;
    this.leaseLost = true;
    this.abort.abort(new Error('lease lost'));
  }

  private async execute(log: Logger): Promise<RunEnd> {
    const { api, heartbeats } = this.options;
    const { run, steps, lease_token: leaseToken } = this.claimed;
    heartbeats.add({
      runId: run.id,
      leaseToken,
      onCancelRequested: () => this.onCancelRequested(),
      onLeaseLost: () => this.onLeaseLost(),
    });
    // Every secret the worker holds is masked, not only those this run references: a step could print
    // one it found another way (a file, a variable it was not meant to read).
    this.secrets =
      (await this.options.secrets?.load().catch((err: unknown) => {
        log.error({ reason: (err as Error).message }, 'secrets could not be loaded');
        return undefined;
      })) ?? new Map();
    // A value in a URL is recorded percent-encoded (an http step's record): that spelling is masked too.
    this.mask = createMasker(
      [
        ...secretParamValues(run.params ?? {}, this.claimed.secret_params ?? []),
        ...this.secrets.values(),
      ].flatMap((value) => [value, encodeURIComponent(value)]),
    );
    const runTimeout = this.claimed.timeout_s
      ? setTimeout(() => this.abort.abort(new Error('run timeout')), this.claimed.timeout_s * 1000)
      : undefined;
    let outcome: StepOutcome = { status: 'success' };
    let lastStep: string | undefined;
    const outputs: Record<string, unknown> = {};
    const artifacts: PendingArtifact[] = [];
    try {
      this.sink.emit({
        level: 'info',
        type: 'run.started',
        message: `attempt ${run.attempt} started on ${run.lane}`,
        data: { attempt: run.attempt },
      });
      for (const [index, step] of steps.entries()) {
        if (this.abort.signal.aborted) break;
        const name = String(step.name ?? `step-${index + 1}`);
        const kind = String(step.kind);
        lastStep = name;
        this.sink.emit({
          level: 'info',
          type: 'step.started',
          step: name,
          message: `${kind} step ${name} started`,
          data: { index, kind },
        });
        const started = Date.now();
        const workdir = this.options.executors.usesWorkdir(step) ? await this.makeWorkdir() : '';
        outcome = await runStep(this.options.executors, step, {
          runId: run.id,
          attempt: run.attempt,
          stepName: name,
          params: run.params ?? {},
          secrets: secretsForStep(step, this.secrets),
          workdir,
          signal: this.abort.signal,
          killGraceMs: this.options.killGraceMs,
          emit: (event) => this.sink.emit(event, name),
          addArtifact: (artifact) => artifacts.push({ ...artifact, step: name }),
          runApi: createRunApi(
            api,
            run.id,
            leaseToken,
            () => name,
            (event) => this.sink.emit(event, name),
            this.store,
          ),
          log: lazyChild(log, { step: name }),
        });
        if (outcome.status === 'success' && outcome.output !== undefined) outputs[name] = outcome.output;
        const finished =
          outcome.status === 'success' ? 'success' : outcome.status === 'failed' ? 'error' : outcome.status;
        this.sink.emit({
          level: outcome.status === 'success' ? 'info' : 'error',
          type: 'step.finished',
          step: name,
          message: `${kind} step ${name} ${finished}${outcome.status === 'failed' ? `: ${outcome.message}` : ''}`,
          data: {
            index,
            kind,
            status: finished,
            exit_code:
              outcome.status === 'failed'
                ? (outcome.exitCode ?? null)
                : outcome.status === 'success'
                  ? 0
                  : null,
            duration_ms: Date.now() - started,
          },
        });
        if (outcome.status !== 'success') break;
      }
      if (!this.leaseLost && artifacts.length > 0) {
        const failed = await uploadArtifacts(
          api,
          run.id,
          leaseToken,
          artifacts,
          (event) => this.sink.emit(event),
          () => this.leaseLost,
          log,
          this.store,
          this.mask,
        );
        // A run that produced an artifact it could not store is not a success: its output is incomplete.
        if (failed.length > 0 && outcome.status === 'success') {
          outcome = {
            status: 'failed',
            code: 'artifact_upload_failed',
            message: failed.map((f) => f.message).join('; '),
          };
          lastStep = undefined;
        }
      }
    } catch (err) {
      outcome = {
        status: 'failed',
        code: 'worker_error',
        message: err instanceof Error ? err.message : String(err),
      };
      log.error({ err }, 'run failed inside the worker');
    } finally {
      clearTimeout(runTimeout);
    }
    try {
      return await this.finish(outcome, outputs, lastStep, log);
    } finally {
      heartbeats.remove(run.id);
      this.sink.close();
      if (this.workdir)
        await this.workdir.then((dir) => rm(dir, { recursive: true, force: true })).catch(() => undefined);
    }
  }

  /** The run's scratch directory, made on first use (a failure to make it fails the step that needed it). */
  private makeWorkdir(): Promise<string> {
    return (this.workdir ??= mkdtemp(join(this.options.workDir || tmpdir(), 'ocr-run-')));
  }

  /** Complete the run from its last step's outcome (`step` names that step in the run's error). */
  private async finish(
    outcome: StepOutcome,
    outputs: Record<string, unknown>,
    step: string | undefined,
    log: Logger,
  ): Promise<RunEnd> {
    const { api } = this.options;
    const { run, lease_token: leaseToken } = this.claimed;
    if (this.leaseLost) {
      log.warn('lease lost: step stopped, nothing more written');
      return 'lease_lost';
    }
    if (this.releaseReason && !this.cancelRequested) {
      this.sink.emit({ level: 'warn', type: 'released', message: `handed back: ${this.releaseReason}` });
      await this.sink.flush();
      if (this.leaseLost) return 'lease_lost';
      await api
        .release(run.id, leaseToken, this.releaseReason)
        .catch((err) => log.error({ err }, 'release failed'));
      return 'released';
    }
    const timedOutRun =
      this.abort.signal.aborted && String((this.abort.signal.reason as Error)?.message) === 'run timeout';
    let status: 'success' | 'error' | 'cancelled';
    let error: { code: string; message: string; details?: unknown } | undefined;
    if (this.cancelRequested) {
      status = 'cancelled';
      this.sink.emit({ level: 'warn', type: 'cancel.confirmed', message: 'run cancelled' });
    } else if (timedOutRun) {
      status = 'error';
      error = { code: 'run_timeout', message: `run exceeded its timeout of ${this.claimed.timeout_s} s` };
    } else if (outcome.status === 'success') {
      status = 'success';
    } else {
      status = 'error';
      error =
        outcome.status === 'failed'
          ? {
              code: outcome.code,
              message: outcome.message,
              details: { step, ...(outcome.exitCode !== undefined ? { exit_code: outcome.exitCode } : {}) },
            }
          : outcome.status === 'timeout'
            ? { code: 'step_timeout', message: outcome.message ?? 'step timed out', details: { step } }
            : { code: 'step_cancelled', message: 'step stopped', details: { step } };
    }
    const events = await this.sink.takeRemaining();
    if (this.leaseLost) return 'lease_lost';
    // Output and error may carry what a step printed: cleaned so the API stores them as sent.
    const outcomeBody = {
      status,
      // Secret values never leave the worker: not in the error, nor in a step's output.
      ...(error ? { error: sanitizeJson(maskJson(error, this.mask)) as typeof error } : {}),
      output: Object.keys(outputs).length ? sanitizeJson(maskJson(outputs, this.mask)) : undefined,
      events,
    };
    // A completion is retried through API outages for as long as the lease can still be ours (twice the
    // lease); losing the lease ends it. Giving up earlier would leave a finished run to the sweeper, which
    // would execute it again.
    try {
      const { refused } = await retry(() => api.complete(run.id, leaseToken, outcomeBody), {
        initialMs: 200,
        maxMs: 5_000,
        deadlineMs: 2 * this.options.leaseTimeoutMs,
        retryable: (err) => (err as { code?: string }).code !== 'lease_lost',
        onRetry: (err, attempt, delayMs) =>
          log.warn({ err, attempt, retryInMs: delayMs }, 'complete failed; retrying'),
      });
      if (refused) {
        log.error({ reason: refused }, 'completion refused by the API: recorded as failed');
        return 'error';
      }
      return status;
    } catch (err) {
      if ((err as { code?: string }).code === 'lease_lost') return 'lease_lost';
      throw err;
    }
  }
}

/** An error as pino would log it (type, message, stack, code), with secret values masked. */
function maskedError(err: unknown, mask: (text: string) => string): unknown {
  if (!(err instanceof Error)) return maskJson(err, mask);
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    message: mask(err.message),
    ...(err.stack ? { stack: mask(err.stack) } : {}),
    ...(code !== undefined ? { code: maskJson(code, mask) } : {}),
  };
}
