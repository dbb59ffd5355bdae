/** `noop`: succeeds at once. The lightest possible step, for benchmarks and plumbing tests. */
import { defineExecutor, withoutWorkdir } from './define-executor.js';
import { NoopStep } from './step-schemas.js';
import { stepResult } from './types.js';

/** The noop step executor: touches no working directory, so a noop-only run makes none. */
export const noopExecutor = withoutWorkdir(
  defineExecutor('noop', NoopStep, async () => stepResult.succeeded()),
);
