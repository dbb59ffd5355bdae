import { isAbsolute, relative, resolve } from 'node:path';
import type { ExecutorRegistry } from './steps/registry.js';
import { StepError, type StepContext, type StepOutcome } from './steps/types.js';

export type { StepOutcome, StepContext } from './steps/types.js';

/** Resolve a declared artifact path inside the run directory; anything escaping it is refused. */
function insideWorkdir(workdir: string, path: string): string | undefined {
  const full = resolve(workdir, path);
  const rel = relative(workdir, full);
  return rel.startsWith('..') || isAbsolute(rel) ? undefined : full;
}

/**
 * Run one step through its executor with the step's timeout, turning thrown errors into typed outcomes,
 * then collect the files it declared as artifacts (only after success: a failed step's files are partial).
 */
export async function runStep(registry: ExecutorRegistry, step: Record<string, unknown>, ctx: StepContext): Promise<StepOutcome> {
  const kind = String(step.kind);
  const executor = registry.get(kind);
  if (!executor) return { status: 'failed', code: 'unknown_step_kind', message: `no executor for step kind ${kind} on this worker (has: ${registry.kinds.join(', ')})` };
  const timeoutMs = typeof step.timeout_s === 'number' ? step.timeout_s * 1000 : undefined;
  let outcome: StepOutcome;
  try {
    outcome = await executor.run(step, ctx, timeoutMs);
  } catch (err) {
    if (ctx.signal.aborted) return { status: 'cancelled' };
    outcome = err instanceof StepError ? { status: 'failed', code: err.code, message: err.message } : { status: 'failed', code: 'executor_error', message: (err as Error).message };
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
