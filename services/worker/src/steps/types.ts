import type { Logger } from '@ocr/runtime';
import type { PendingArtifact } from '../artifacts.js';
import type { WorkerEvent } from '../protocol.js';

/** An event a step emits; the run adds seq, time and the step name. */
export type StepEvent = Omit<WorkerEvent, 'seq' | 'ts' | 'step'>;

/** Everything an executor gets: the same timeout, cancel, env and output semantics for every kind. */
export interface StepContext {
  runId: string;
  attempt: number;
  stepName: string;
  params: Record<string, unknown>;
  /** Per-run scratch directory; relative artifact paths resolve against it. */
  workdir: string;
  /** Aborts on cancel, run timeout, lease loss or shutdown. */
  signal: AbortSignal;
  /** SIGTERM → this long → SIGKILL (and docker stop → kill). */
  killGraceMs: number;
  httpAllowPrivate: boolean;
  emit(event: StepEvent): void;
  addArtifact(artifact: Omit<PendingArtifact, 'step'>): void;
  log: Logger;
}

/** How a step ended. Typed outcomes become the run's outcome in one place (RunExecution). */
export type StepOutcome =
  | { status: 'success'; output?: unknown }
  | { status: 'failed'; code: string; message: string; exitCode?: number }
  | { status: 'timeout'; message?: string }
  | { status: 'cancelled' };

/** One step kind. */
export interface StepExecutor {
  readonly kind: string;
  run(step: Record<string, unknown>, ctx: StepContext, timeoutMs: number | undefined): Promise<StepOutcome>;
}

/** A typed failure an executor can throw; becomes `{status: 'failed', code, message}`. */
export class StepError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'StepError';
  }
}
