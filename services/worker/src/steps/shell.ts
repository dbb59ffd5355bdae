import { spawn } from 'node:child_process';
import { paramEnv, renderShell } from '@ocr/contracts';
import { OutputFramer } from './output.js';
import { groupAlive, signalGroup } from './process-tree.js';
import type { StepContext, StepExecutor, StepOutcome } from './types.js';

/** The environment a step process sees: a small base, never the worker's own secrets. */
export function baseEnv(ctx: StepContext, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: ctx.workdir,
    LANG: process.env.LANG ?? 'C.UTF-8',
    TMPDIR: ctx.workdir,
    OCR_RUN_ID: ctx.runId,
    OCR_ATTEMPT: String(ctx.attempt),
    OCR_STEP: ctx.stepName,
    ...paramEnv(ctx.params),
    ...extra,
  };
}

/**
 * `shell`: the script runs under /bin/sh (or bash) in its own process group, in the run's directory.
 * Params arrive as `OCR_PARAM_*` variables, and `{{params.x}}` placeholders become single-quoted words, so
 * no param value can become shell syntax. On cancel or timeout the whole group gets SIGTERM, then SIGKILL
 * after the grace; when the script exits, anything it left running in its group is killed too — no orphans.
 */
export const shellExecutor: StepExecutor = {
  kind: 'shell',
  run(step, ctx, timeoutMs): Promise<StepOutcome> {
    const script = renderShell(String(step.script ?? ''), ctx.params);
    const shell = step.shell === 'bash' ? '/bin/bash' : '/bin/sh';
    const env = baseEnv(ctx, (step.env as Record<string, string> | undefined) ?? {});
    return new Promise<StepOutcome>((resolve) => {
      const child = spawn(shell, ['-c', script], { cwd: ctx.workdir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const framer = new OutputFramer(ctx.emit);
      child.stdout.on('data', (chunk: Buffer) => framer.write('stdout', chunk));
      child.stderr.on('data', (chunk: Buffer) => framer.write('stderr', chunk));
      let stopping: 'timeout' | 'cancelled' | undefined;
      let killTimer: NodeJS.Timeout | undefined;

      const stop = (why: 'timeout' | 'cancelled') => {
        if (stopping) return;
        stopping = why;
        ctx.emit({ level: 'warn', type: 'cancel.signalled', message: `${why === 'timeout' ? 'timed out' : 'stopping'}: SIGTERM sent to the process group`, data: { signal: 'SIGTERM', reason: why } });
        signalGroup(child.pid, 'SIGTERM');
        killTimer = setTimeout(() => {
          if (groupAlive(child.pid)) {
            signalGroup(child.pid, 'SIGKILL');
            ctx.emit({ level: 'warn', type: 'cancel.killed', message: `still running after ${ctx.killGraceMs} ms: SIGKILL sent`, data: { signal: 'SIGKILL' } });
          }
        }, ctx.killGraceMs);
      };
      const onAbort = () => stop('cancelled');
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      const timer = timeoutMs ? setTimeout(() => stop('timeout'), timeoutMs) : undefined;

      child.once('error', (err) => {
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onAbort);
        resolve({ status: 'failed', code: 'spawn_failed', message: err.message });
      });
      // 'exit' fires when the shell ends; leftovers in its group (background jobs) would keep the pipes open.
      child.once('exit', () => {
        if (groupAlive(child.pid)) signalGroup(child.pid, 'SIGKILL');
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        ctx.signal.removeEventListener('abort', onAbort);
        framer.end();
        if (stopping === 'timeout') resolve({ status: 'timeout', message: `step exceeded its timeout of ${Math.round((timeoutMs ?? 0) / 1000)} s` });
        else if (stopping === 'cancelled') resolve({ status: 'cancelled' });
        else if (code === 0) resolve({ status: 'success', output: { exit_code: 0 } });
        else resolve({ status: 'failed', code: 'step_failed', message: code !== null ? `exit code ${code}` : `killed by ${signal}`, exitCode: code ?? 128 });
      });
    });
  },
};
