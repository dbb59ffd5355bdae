/**
 * The environment of a process a step starts: a small fixed base, never the worker's own environment
 * (which holds its API token), then the worker's extra env, the step's env, then the params.
 */
import { paramEnv, renderEnv } from '../params/index.js';
import { secretVariables } from '../secrets.js';
import type { StepContext } from './types.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Variables every step sees that describe the step itself. */
export function stepIdentityEnv(ctx: StepContext): Record<string, string> {
  return { OCR_RUN_ID: ctx.runId, OCR_ATTEMPT: String(ctx.attempt), OCR_STEP: ctx.stepName };
}

/**
 * Environment for a local process (shell step, stdio MCP server). Params come last so `OCR_PARAM_*`
 * always tells the truth; the step's own env values may use `{{params.x}}` (rendered as plain text).
 */
export function localProcessEnv(
  ctx: StepContext,
  stepEnv: Record<string, string> | undefined,
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? DEFAULT_PATH,
    LANG: process.env.LANG ?? 'C.UTF-8',
    HOME: ctx.workdir,
    TMPDIR: ctx.workdir,
    ...stepIdentityEnv(ctx),
    ...ctx.env,
    ...renderEnv(stepEnv, ctx.params, ctx.secrets),
    ...paramEnv(ctx.params),
    // Only the secrets this step references (a rendered `{{secrets.X}}` in a script reads "${OCR_SECRET_X}").
    ...secretVariables(ctx.secrets ?? {}),
  };
}

/** Environment for a container: no host variables at all, only the step's, the worker's extra, and params. */
export function containerEnv(ctx: StepContext, stepEnv: Record<string, string> | undefined): string[] {
  const env = {
    ...stepIdentityEnv(ctx),
    ...ctx.env,
    ...renderEnv(stepEnv, ctx.params, ctx.secrets),
    ...paramEnv(ctx.params),
    ...secretVariables(ctx.secrets ?? {}),
  };
  return Object.entries(env).map(([key, value]) => `${key}=${value}`);
}
