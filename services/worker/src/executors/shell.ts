/**
 * `shell`: the script runs under /bin/sh (or bash) in its own process group, in the run directory.
 * Params arrive as `OCR_PARAM_*` variables, and `{{params.x}}` placeholders become references to those
 * variables (`"${OCR_PARAM_X}"`; a placeholder where that is not safe is refused when the template is
 * saved), so no param value can become shell syntax (packages/contracts/src/params/shell-script.ts). On cancel or timeout the whole group gets SIGTERM, then SIGKILL
 * after the grace; when the script ends, anything it left running in its group is killed — no orphans.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { OutputFramer } from '../output/index.js';
import { renderShellScript } from '../params/index.js';
import { defineExecutor } from './define-executor.js';
import { localProcessEnv } from './process-env.js';
import { groupAlive, groupGone, signalGroup } from './process-group.js';
import { ShellStep } from './step-schemas.js';
import { stepResult, type StepResult } from './types.js';

/** The shell step executor. */
export const shellExecutor = defineExecutor('shell', ShellStep, (step, ctx, stop) => {
  const script = renderShellScript(step.script, ctx.params, ctx.secrets);
  const shell = step.shell === 'bash' ? '/bin/bash' : '/bin/sh';
  const env = localProcessEnv(ctx, step.env);
  return new Promise<StepResult>((resolve) => {
    const child = spawn(shell, ['-c', script], {
      cwd: ctx.workdir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const framer = new OutputFramer(ctx.emit, ctx.output);
    child.stdout.on('data', (chunk: Buffer) => framer.write('stdout', chunk));
    child.stderr.on('data', (chunk: Buffer) => framer.write('stderr', chunk));
    let leftoverTimer: NodeJS.Timeout | undefined;
    let leftoversKilled = false;

    child.once('spawn', () =>
      stop.escalateWith({
        gentle: {
          message: 'SIGTERM sent to the process group',
          data: { signal: 'SIGTERM', pid: child.pid },
          run: () => void signalGroup(child.pid, 'SIGTERM'),
        },
        force: {
          message: 'SIGKILL sent to the process group',
          data: { signal: 'SIGKILL', pid: child.pid },
          run: () => void signalGroup(child.pid, 'SIGKILL'),
        },
        finished: () => !groupAlive(child.pid),
      }),
    );
    child.once('error', (err) => {
      framer.end();
      resolve(stepResult.failed('spawn_failed', `could not start ${shell}: ${err.message}`));
    });
    // The shell has ended; processes it put in the background would outlive it and keep the pipes open.
    // While stopping, the escalation owns the group (its grace applies); otherwise they are orphans: kill.
    child.once('exit', () => {
      if (stop.reason || !groupAlive(child.pid)) return;
      ctx.emit({
        level: 'warn',
        type: 'process.leftovers_killed',
        message: 'the script left processes running in its group: SIGKILL sent',
        data: { pid: child.pid },
      });
      leftoversKilled = signalGroup(child.pid, 'SIGKILL');
      // A process that left the group (setsid) could still hold the pipes: stop waiting for them after the grace.
      leftoverTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, ctx.killGraceMs);
    });
    child.once('close', async (code, signal) => {
      clearTimeout(leftoverTimer);
      const summary = framer.end();
      if (stop.reason) {
        // Processes that closed their output may still be in their grace: report only once the group is gone
        // (after the force too: a queued SIGKILL takes effect when the kernel next schedules the process).
        if (groupAlive(child.pid)) {
          await stop.settled();
          await groupGone(child.pid, ctx.killGraceMs);
        }
        return resolve(stop.result());
      }
      // The step is over only when its leftovers are: a result must never race a still-running orphan.
      if (leftoversKilled) await groupGone(child.pid, ctx.killGraceMs);
      if (code === 0)
        return resolve(
          stepResult.succeeded({
            exit_code: 0,
            output_bytes: summary.bytes,
            output_truncated: summary.truncated,
          }),
        );
      if (code !== null) return resolve(stepResult.failed('exit_code', `exit code ${code}`, code));
      const signo = signal ? (constants.signals[signal] ?? 0) : 0;
      resolve(stepResult.failed('killed', `killed by ${signal ?? 'a signal'}`, 128 + signo));
    });
  });
});
