import { isAbsolute, relative, resolve } from 'node:path';
import type { ExecutorRegistry, StepContext, StepResult } from './executors/index.js';

export type { StepContext } from './executors/index.js';
/** How a step ended (the executors' typed results). */
export type StepOutcome = StepResult;

/** Resolve a declared artifact path inside the run directory; anything escaping it is refused. */
function insideWorkdir(workdir: string, path: string): string | undefined {
  const full = resolve(workdir, path);
  const rel = relative(workdir, full);
  return rel.startsWith('..') || isAbsolute(rel) ? undefined : full;
}

/**
 * Run one step through its executor with the step's timeout, then collect the files it declared as
 * artifacts (only after success: a failed step's files are partial).
 */
export async function runStep(registry: ExecutorRegistry, step: Record<string, unknown>, ctx: Omit<StepContext, 'timeoutMs' | 'env'>): Promise<StepOutcome> {
  const timeoutMs = typeof step.timeout_s === 'number' ? step.timeout_s * 1000 : undefined;
  let outcome: StepOutcome;
  try {
    outcome = await registry.run(step, { ...ctx, env: {}, ...(timeoutMs ? { timeoutMs } : {}) });
  } catch (err) {
    outcome = ctx.signal.aborted ? { status: 'cancelled', message: 'step stopped' } : { status: 'failed', code: 'executor_error', message: (err as Error).message };
  }
  if (outcome.status === 'success') {
    for (const declared of (step.artifacts as { path: string; kind: string; name?: string }[] | undefined) ?? []) {
      const path = insideWorkdir(ctx.workdir, declared.path);
      if (!path) {
        ctx.emit({ level: 'error', type: 'artifact.failed', message: `artifact path ${declared.path} is outside the run directory` });
        continue;
      }
      ctx.addArtifact({ name: declared.name ?? declared.path, kind: declared.kind as never, path });
    }
  }
  return outcome;
}
