import type { StepExecutor } from './types.js';

/** `noop`: succeeds at once. The lightest possible step, for benchmarks and plumbing tests. */
export const noopExecutor: StepExecutor = {
  kind: 'noop',
  async run() {
    return { status: 'success' };
  },
};
