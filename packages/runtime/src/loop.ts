import { EventEmitter, once } from 'node:events';
import type { Logger } from 'pino';

/**
 * A background loop with one start/stop shape shared by the claim loop, sweeper ticks and listeners.
 * `tick` runs, then the loop sleeps `intervalMs` (or until `wake()`), never two ticks at once.
 * Emits `tick` after each run so tests await progress instead of sleeping.
 */
export class Loop extends EventEmitter {
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private wakeUp: (() => void) | undefined;
  private done: Promise<void> | undefined;
  private abort = new AbortController();

  constructor(
    readonly name: string,
    private readonly intervalMs: () => number,
    private readonly tick: (signal: AbortSignal) => Promise<unknown>,
    private readonly log: Logger,
  ) {
    super();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.done = this.run();
  }

  /** Run the next tick now instead of waiting out the interval. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Wait for the next completed tick. */
  async nextTick(): Promise<void> {
    await once(this, 'tick');
  }

  /** Stop after the current tick; aborts the tick's signal. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    this.wake();
    await this.done;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.tick(this.abort.signal);
      } catch (err) {
        if (this.running) this.log.error({ err, loop: this.name }, 'loop tick failed');
      }
      this.emit('tick');
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        this.timer = setTimeout(resolve, this.intervalMs());
      });
      clearTimeout(this.timer);
      this.wakeUp = undefined;
    }
  }
}
