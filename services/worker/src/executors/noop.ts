/** `noop`: succeeds at once. The lightest possible step, for benchmarks and plumbing tests. */
import { defineExecutor } from './define-executor.js';
import { NoopStep } from './step-schemas.js';
import { stepResult } from './types.js';

/** The noop step executor. */
export const noopExecutor = defineExecutor('noop', NoopStep, async () => stepResult.succeeded());
