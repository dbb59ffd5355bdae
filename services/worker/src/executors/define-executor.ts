/**
 * The frame every built-in executor runs in, so the shared semantics live in one place: a run already
 * cancelled starts nothing; the step is validated against its schema (a clear `invalid_step` naming the
 * field); timeout and cancel arrive as one `StepStop`; and nothing thrown escapes as an exception.
 */
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import Value from 'typebox/value';
import { ParamError } from '@ocr/contracts';
import { StepStop } from './step-stop.js';
import { ExecutorError, stepResult, type StepContext, type StepExecutor, type StepResult } from './types.js';

/** The body of an executor: a validated step, its context, and its stop state. */
export type ExecutorBody<S extends TSchema> = (
  step: Static<S>,
  ctx: StepContext,
  stop: StepStop,
) => Promise<StepResult>;

/** An executor for `kind` whose steps must match `schema`. */
export function defineExecutor<S extends TSchema>(
  kind: string,
  schema: S,
  body: ExecutorBody<S>,
): StepExecutor {
  // Compiled once: a valid step is one check, and the error list (with its messages) is only built for a
  // step that fails it.
  const validator = Compile(schema);
  return {
    kind,
    async run(step, ctx) {
      if (ctx.signal.aborted) return stepResult.cancelled('step not started: run cancelled');
      const problem = validator.Check(step) ? undefined : firstProblem(schema, step);
      if (problem) return stepResult.failed('invalid_step', `step ${ctx.stepName}: ${problem}`);
      const stop = new StepStop(ctx);
      try {
        const result = await body(step as Static<S>, ctx, stop);
        // An executor that failed because it was stopped (an aborted request, a killed process) was stopped.
        return stop.reason && result.status === 'failed' ? stop.result() : result;
      } catch (err) {
        if (stop.reason) return stop.result();
        if (err instanceof ExecutorError) return stepResult.failed(err.code, err.message, err.exitCode);
        if (err instanceof ParamError) return stepResult.failed(err.code, err.message);
        ctx.log.error({ err }, 'executor threw');
        return stepResult.failed('executor_error', err instanceof Error ? err.message : String(err));
      } finally {
        stop.dispose();
      }
    },
  };
}

/** The same executor, declared never to touch the run's working directory (none is made for its steps). */
export function withoutWorkdir(executor: StepExecutor): StepExecutor {
  return { ...executor, usesWorkdir: false };
}

/** The first schema violation, as `field: message`. */
export function firstProblem(schema: TSchema, value: unknown): string | undefined {
  for (const error of Value.Errors(schema, value)) {
    const params = error.params as
      { requiredProperties?: string[]; additionalProperties?: string[] } | undefined;
    const named = params?.requiredProperties?.[0] ?? params?.additionalProperties?.[0];
    const path =
      [error.instancePath.replace(/^\//, '').replace(/\//g, '.'), named].filter(Boolean).join('.') ||
      '(step)';
    const unknown =
      error.keyword === 'additionalProperties' ||
      (error.keyword === 'boolean' && error.schemaPath.endsWith('additionalProperties'));
    return `${path}: ${unknown ? 'unknown field' : error.message}`;
  }
  return undefined;
}
