/**
 * The one interface every step kind implements, the context a step runs in, and its typed outcomes.
 * Executors never talk to the API: they emit events and declare artifacts through the context, and the
 * run execution turns their outcome into complete / retry / cancel in one place.
 */
import type { Logger } from '@ocr/runtime';
import type { OutputLimits } from '../output/index.js';
import type { StepEvent } from '../step-event.js';

// Defined in a leaf module: output/ frames lines into step events too, and must not import this file.
export type { EventLevel, StepEvent } from '../step-event.js';

/** Artifact kinds, as the API knows them. */
export type ArtifactKind = 'text' | 'markdown' | 'json' | 'diff' | 'image' | 'file' | 'zip';

/** A file (`path`) or an in-memory value (`content`) a step produced; the run uploads it after the step. */
export interface StepArtifact {
  name: string;
  kind: ArtifactKind;
  content_type?: string;
  path?: string;
  content?: string | Buffer;
}

/** Everything an executor gets: the same timeout, cancel, env and output semantics for every kind. */
export interface StepContext {
  runId: string;
  attempt: number;
  stepName: string;
  /** The run's params (already validated by the API against the template's schema). */
  params: Record<string, unknown>;
  /**
   * The worker's secrets this step references, by the name it uses (`{{secrets.NAME}}`); never sent anywhere
   * but into the step, and masked in everything the run sends (see secrets.ts).
   */
  secrets?: Record<string, string>;
  /** Extra environment for processes a step starts (shell, docker, stdio MCP servers), under the step's own. */
  env: Record<string, string>;
  /**
   * Per-run scratch directory: the shell's cwd, where copied-out files land. Removed by the run. Made on
   * the first step whose executor may use it; empty for a step of a kind that declares `usesWorkdir: false`.
   */
  workdir: string;
  /** Aborts on cancel, run timeout, lease loss or shutdown: the step must stop and report `cancelled`. */
  signal: AbortSignal;
  /** The step's own time limit; the step stops and reports `timeout` when it passes. */
  timeoutMs?: number;
  /** Stop gently (SIGTERM, docker stop, close the session), wait this long, then force (SIGKILL, kill). */
  killGraceMs: number;
  /** Head-and-tail truncation limits for this step's output (defaults: 1 MiB head, 1 MiB tail). */
  output?: Partial<OutputLimits>;
  emit(event: StepEvent): void;
  addArtifact(artifact: StepArtifact): void;
  /** The API, for this run only and fenced by its lease; absent where there is no API (unit contexts). */
  runApi?: RunApi;
  log: Logger;
}

/**
 * What a built-in step may ask of the API about its own run (Spec Kit needs artifact ids before the step
 * ends, stores spec_docs, and reads the run's named inputs). Every call is fenced by the run's lease.
 */
export interface RunApi {
  /** Upload an artifact now (same path as declared artifacts) and return its id. */
  uploadArtifact(artifact: StepArtifact): Promise<{ id: string }>;
  /** Store documents as new spec_docs versions of `project`. */
  storeSpecDocs(
    project: string,
    docs: { name: string; content: string; artifact_id?: string }[],
  ): Promise<{ id: string; name: string; version: number }[]>;
  /** The latest spec_docs of a project the run names in its params or steps. */
  readSpecDocs(project: string): Promise<{ name: string; content: string }[]>;
  /** The bytes of an artifact the run names in its params or steps. */
  readArtifact(
    artifactId: string,
    signal?: AbortSignal,
  ): Promise<{ name: string; kind: string; bytes: Uint8Array }>;
}

/** The step ran to the end and did what was asked. */
export interface StepSucceeded {
  status: 'success';
  output?: unknown;
}

/** The step ended badly: a non-zero exit, an unexpected HTTP status, a tool error, a bad step, … */
export interface StepFailed {
  status: 'failed';
  /** Stable snake_case reason: `exit_code`, `unexpected_status`, `tool_error`, `docker_unavailable`, … */
  code: string;
  message: string;
  /** The process or container exit code, when there was one. */
  exitCode?: number;
}

/** The step passed its own time limit and was stopped. */
export interface StepTimedOut {
  status: 'timeout';
  message: string;
  timeoutMs: number;
}

/** The step was stopped because the run was cancelled (or the worker gave the run up). */
export interface StepCancelled {
  status: 'cancelled';
  message: string;
}

/** How a step ended. The run execution maps these to complete / retry / cancel in one place. */
export type StepResult = StepSucceeded | StepFailed | StepTimedOut | StepCancelled;

/** Constructors for step results, so executors read as what they mean. */
export const stepResult = {
  succeeded(output?: unknown): StepSucceeded {
    return output === undefined ? { status: 'success' } : { status: 'success', output };
  },
  failed(code: string, message: string, exitCode?: number): StepFailed {
    return exitCode === undefined
      ? { status: 'failed', code, message }
      : { status: 'failed', code, message, exitCode };
  },
  timedOut(timeoutMs: number): StepTimedOut {
    return { status: 'timeout', timeoutMs, message: `step exceeded its timeout of ${formatMs(timeoutMs)}` };
  },
  cancelled(message = 'step stopped: run cancelled'): StepCancelled {
    return { status: 'cancelled', message };
  },
};

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** One step kind. `run` never throws: every ending is a `StepResult`. */
export interface StepExecutor {
  readonly kind: string;
  /**
   * `false` when the kind never touches `ctx.workdir` (noop, http): the run then makes no directory for it
   * (a directory per run is a mkdtemp and a recursive rm). Absent means it may, and one is made.
   */
  readonly usesWorkdir?: boolean;
  run(step: Record<string, unknown>, ctx: StepContext): Promise<StepResult>;
}

/** A typed failure inside an executor; `defineExecutor` turns it into `StepFailed{code, message}`. */
export class ExecutorError extends Error {
  /** The process or container exit code, when the failure had one. */
  readonly exitCode?: number;

  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown; exitCode?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ExecutorError';
    if (options?.exitCode !== undefined) this.exitCode = options.exitCode;
  }
}
