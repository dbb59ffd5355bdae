import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import type { ExecutorRegistry, StepContext, StepResult } from './executors/index.js';

export type { StepContext } from './executors/index.js';
/** How a step ended (the executors' typed results). */
export type StepOutcome = StepResult;

/** Is `full` inside `dir` (both absolute)? */
function inside(dir: string, full: string): boolean {
  const rel = relative(dir, full);
  return !(rel.startsWith('..') || isAbsolute(rel));
}

/**
 * Resolve a declared artifact path inside the run directory, symlinks followed: a path that escapes it, by
 * `..` or through a symlink (`ln -s /etc/passwd out/r.txt`), or that is not a regular file, is refused. The
 * resolved path is what gets uploaded, and the upload checks it again (artifacts.ts).
 */
async function insideWorkdir(workdir: string, path: string): Promise<{ path?: string; problem?: string }> {
  const full = resolve(workdir, path);
  if (!inside(workdir, full)) return { problem: 'is outside the run directory' };
  try {
    const [root, real] = await Promise.all([realpath(workdir), realpath(full)]);
    if (!inside(root, real)) return { problem: 'is a symlink to somewhere outside the run directory' };
    if (!(await stat(real)).isFile()) return { problem: 'is not a regular file' };
    return { path: real };
  } catch {
    // Missing: the upload reports it as it always has.
    return { path: full };
  }
}

/**
 * Run one step through its executor with the step's timeout, then collect the files it declared as
 * artifacts (only after success: a failed step's files are partial).
 */
export async function runStep(
  registry: ExecutorRegistry,
  step: Record<string, unknown>,
  ctx: Omit<StepContext, 'timeoutMs' | 'env'>,
): Promise<StepOutcome> {
  const timeoutMs = typeof step.timeout_s === 'number' ? step.timeout_s * 1000 : undefined;
  let outcome: StepOutcome;
  try {
    // The new fields first: `{ ...ctx, env }` (a spread, then a field ctx lacks) is V8's slow path (µs a run).
    outcome = await registry.run(step, timeoutMs ? { env: {}, timeoutMs, ...ctx } : { env: {}, ...ctx });
  } catch (err) {
    outcome = ctx.signal.aborted
      ? { status: 'cancelled', message: 'step stopped' }
      : { status: 'failed', code: 'executor_error', message: (err as Error).message };
  }
  if (outcome.status === 'success') {
    for (const declared of (step.artifacts as { path: string; kind: string; name?: string }[] | undefined) ??
      []) {
      const { path, problem } = await insideWorkdir(ctx.workdir, declared.path);
      if (!path) {
        ctx.emit({
          level: 'error',
          type: 'artifact.failed',
          message: `artifact path ${declared.path} ${problem}`,
          data: { name: declared.name ?? declared.path },
        });
        continue;
      }
      ctx.addArtifact({ name: declared.name ?? declared.path, kind: declared.kind as never, path });
    }
  }
  return outcome;
}
