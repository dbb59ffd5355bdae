import { noopExecutor } from './noop.js';
import { shellExecutor } from './shell.js';
import type { StepExecutor } from './types.js';

/** Step kinds by name. Built-ins are registered here; other packages add theirs with `register`. */
export class ExecutorRegistry {
  private readonly executors = new Map<string, StepExecutor>();

  register(executor: StepExecutor): this {
    this.executors.set(executor.kind, executor);
    return this;
  }

  get(kind: string): StepExecutor | undefined {
    return this.executors.get(kind);
  }

  get kinds(): string[] {
    return [...this.executors.keys()];
  }
}

/** A registry with every built-in kind. */
export function createExecutorRegistry(extra: StepExecutor[] = []): ExecutorRegistry {
  const registry = new ExecutorRegistry().register(shellExecutor).register(noopExecutor);
  for (const executor of extra) registry.register(executor);
  return registry;
}
