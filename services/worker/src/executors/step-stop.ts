/**
 * The stop semantics every kind shares: a step stops when the run's signal aborts (cancel) or its own
 * timeout passes; stopping is gentle first (SIGTERM, docker stop, cancel notification) and forced after
 * the grace (SIGKILL, docker kill, session torn down), each stage an event on the run's timeline.
 */
import type { StepCancelled, StepContext, StepTimedOut } from './types.js';
import { stepResult } from './types.js';

/** Why a step is being stopped. */
export type StopReason = 'cancelled' | 'timeout';

/** How an executor stops what it started: gently, then by force if still running after the grace. */
export interface Escalation {
  /** What was done gently, for the `cancel.signalled` event (`SIGTERM sent to the process group`). */
  gentle: { message: string; data?: Record<string, unknown>; run(): void | Promise<void> };
  /** What is done when the gentle way did not work within the grace, for `cancel.killed`. */
  force: { message: string; data?: Record<string, unknown>; run(): void | Promise<void> };
  /** Has the step's work ended (then no force is needed)? */
  finished(): boolean;
}

/**
 * One step's stop state: a signal that fires on cancel or timeout, and the escalation to run then.
 * Lazy about the run's signal: a step that never asks for `signal` nor escalates (noop, most quick steps)
 * costs no controller and no listener; `reason` looks at the run's signal itself, so it reads the same.
 */
export class StepStop {
  private controller: AbortController | undefined;
  private listening = false;
  private readonly timer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private escalation: Escalation | undefined;
  private stopReason: StopReason | undefined;
  private stopError: Error | undefined;
  private graceOver: Promise<void> = Promise.resolve();
  private readonly onAbort = () => this.stop('cancelled');

  constructor(private readonly ctx: StepContext) {
    if (ctx.signal.aborted) this.stop('cancelled');
    if (ctx.timeoutMs !== undefined && ctx.timeoutMs > 0 && !this.stopReason)
      this.timer = setTimeout(() => this.stop('timeout'), ctx.timeoutMs);
  }

  /** Fires when the step must stop (cancel or timeout); pass it to anything abortable. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.stopError) this.controller.abort(this.stopError);
      else this.listen();
    }
    return this.controller.signal;
  }

  /** Why the step is stopping, once it is. */
  get reason(): StopReason | undefined {
    if (!this.stopReason && this.ctx.signal.aborted) this.stop('cancelled');
    return this.stopReason;
  }

  /** The result for a stopped step: timed out or cancelled. */
  result(): StepTimedOut | StepCancelled {
    return this.reason === 'timeout' ? stepResult.timedOut(this.ctx.timeoutMs ?? 0) : stepResult.cancelled();
  }

  /**
   * Say how to stop what the step started. Called once the work is running; if a stop was already asked
   * for, the escalation starts at once.
   */
  escalateWith(escalation: Escalation): void {
    // Listening first: a run cancelled before this call is seen now, with no escalation yet to start.
    this.listen();
    this.escalation = escalation;
    if (this.stopReason) this.escalate();
  }

  /**
   * Resolves once an escalation under way has run its course (the grace passed and, if still needed, the
   * force was applied); at once when none is. Lets an executor wait before it reports the step stopped.
   */
  settled(): Promise<void> {
    return this.graceOver;
  }

  /** Release the timer and listener (always, in a finally). */
  dispose(): void {
    clearTimeout(this.timer);
    clearTimeout(this.graceTimer);
    if (this.listening) this.ctx.signal.removeEventListener('abort', this.onAbort);
  }

  /** Follow the run's signal from now on (a run already aborted stops the step at once). */
  private listen(): void {
    if (this.listening || this.stopReason) return;
    if (this.ctx.signal.aborted) return this.stop('cancelled');
    this.listening = true;
    this.ctx.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  private stop(reason: StopReason): void {
    if (this.stopReason) return;
    // Not listening, a cancel of the run may not have been seen yet: it came first, so it is the reason.
    if (reason === 'timeout' && this.ctx.signal.aborted) reason = 'cancelled';
    this.stopReason = reason;
    this.stopError = new Error(reason === 'timeout' ? 'step timeout' : 'step cancelled');
    clearTimeout(this.timer);
    this.controller?.abort(this.stopError);
    if (this.escalation) this.escalate();
  }

  private escalate(): void {
    const escalation = this.escalation!;
    const reason = this.stopReason!;
    this.escalation = undefined;
    if (escalation.finished()) return;
    this.ctx.emit({
      level: 'warn',
      type: 'cancel.signalled',
      message: `${reason === 'timeout' ? 'timed out' : 'cancelled'}: ${escalation.gentle.message}`,
      data: { reason, grace_ms: this.ctx.killGraceMs, ...escalation.gentle.data },
    });
    void Promise.resolve()
      .then(() => escalation.gentle.run())
      .catch((err: unknown) => this.ctx.log.warn({ err }, 'gentle stop failed'));
    let graceOver!: () => void;
    this.graceOver = new Promise<void>((resolve) => (graceOver = resolve));
    this.graceTimer = setTimeout(() => {
      if (escalation.finished()) return graceOver();
      this.ctx.emit({
        level: 'warn',
        type: 'cancel.killed',
        message: `still running after ${this.ctx.killGraceMs} ms: ${escalation.force.message}`,
        data: { reason, ...escalation.force.data },
      });
      void Promise.resolve()
        .then(() => escalation.force.run())
        .catch((err: unknown) => this.ctx.log.warn({ err }, 'forced stop failed'))
        .finally(graceOver);
    }, this.ctx.killGraceMs);
  }
}
