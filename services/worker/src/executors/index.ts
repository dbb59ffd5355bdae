/**
 * Step executors: one interface for every kind, and a registry holding the built-ins (`shell`, `docker`,
 * `http`, `mcp`, `noop`). Other kinds (Spec Kit's `spec-kit.generate` / `spec-kit.validate`) are added with
 * `register`.
 */
import { createDockerExecutor, type DockerExecutorOptions } from './docker.js';
import { createHttpExecutor, type HttpExecutorOptions } from './http.js';
import { createMcpExecutor, type McpExecutorOptions } from './mcp.js';
import { noopExecutor } from './noop.js';
import { shellExecutor } from './shell.js';
import { createSpecKitValidateExecutor, specKitGenerateExecutor } from './spec-kit.js';
import type { GitSourcePolicy } from './spec-kit-source.js';
import { stepResult, type StepContext, type StepExecutor, type StepResult } from './types.js';

export * from './types.js';
export * as StepSchemas from './step-schemas.js';
export { defineExecutor, withoutWorkdir, type ExecutorBody } from './define-executor.js';
export { StepStop, type Escalation, type StopReason } from './step-stop.js';
export { shellExecutor } from './shell.js';
export { noopExecutor } from './noop.js';
export { createDockerExecutor, CONTAINER_LABELS, type DockerExecutorOptions } from './docker.js';
export { createHttpExecutor, type HttpExecutorOptions } from './http.js';
export { createMcpExecutor, type McpExecutorOptions } from './mcp.js';
export {
  createSpecKitValidateExecutor,
  specKitGenerateExecutor,
  specKitValidateExecutor,
} from './spec-kit.js';
export { isNonPublicAddress, hostAllowed } from './http-guard.js';

/** Step kinds by name. */
export class ExecutorRegistry {
  private readonly executors = new Map<string, StepExecutor>();

  /** Add (or replace) the executor for `kind`. */
  register(kind: string, executor: StepExecutor): this {
    this.executors.set(kind, executor);
    return this;
  }

  get(kind: string): StepExecutor | undefined {
    return this.executors.get(kind);
  }

  has(kind: string): boolean {
    return this.executors.has(kind);
  }

  /**
   * Does a step need the run's working directory? Not when its kind declares it never uses one and it
   * declares no artifact files (those are resolved inside the directory); an unknown kind fails without.
   */
  usesWorkdir(step: Record<string, unknown>): boolean {
    const executor = this.executors.get(String(step.kind));
    if (!executor) return false;
    const artifacts = step.artifacts;
    return executor.usesWorkdir !== false || (Array.isArray(artifacts) && artifacts.length > 0);
  }

  /** Registered kinds, in registration order. */
  get kinds(): string[] {
    return [...this.executors.keys()];
  }

  /** Run a step with the executor for its `kind`; an unknown kind is a failed step, not an exception. */
  run(step: Record<string, unknown>, ctx: StepContext): Promise<StepResult> {
    const kind = String(step.kind);
    const executor = this.executors.get(kind);
    if (!executor)
      return Promise.resolve(
        stepResult.failed(
          'unknown_step_kind',
          `no executor for step kind "${kind}" on this worker (has: ${this.kinds.join(', ')})`,
        ),
      );
    return executor.run(step, ctx);
  }
}

/** Settings of the built-in executors. */
export interface ExecutorRegistryOptions {
  docker?: DockerExecutorOptions;
  http?: HttpExecutorOptions;
  mcp?: McpExecutorOptions;
  /** Where Spec Kit's `git_url` may point (default: https, public addresses). */
  specKitGit?: GitSourcePolicy;
}

/** A registry with every built-in kind. */
export function createExecutorRegistry(options: ExecutorRegistryOptions = {}): ExecutorRegistry {
  return new ExecutorRegistry()
    .register('shell', shellExecutor)
    .register('docker', createDockerExecutor(options.docker))
    .register('http', createHttpExecutor(options.http))
    .register('mcp', createMcpExecutor(options.mcp))
    .register('noop', noopExecutor)
    .register('spec-kit.generate', specKitGenerateExecutor)
    .register('spec-kit.validate', createSpecKitValidateExecutor(options.specKitGit));
}
