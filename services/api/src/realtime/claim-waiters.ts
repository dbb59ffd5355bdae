import type { Listener } from './listener.js';

/**
 * Parks long-poll claims in memory (no database connection held) until an enqueue notification names
 * one of their lanes, the listener reconnects (something may have been missed), or the fallback tick
 * fires — which also catches scheduled runs becoming due.
 */
export class ClaimWaiters {
  private readonly byLane = new Map<string, Set<() => void>>();

  constructor(listener: Listener) {
    listener.on('enqueue', (lane: string) => this.wake(lane));
    listener.on('reconnected', () => this.wakeAll());
  }

  /** Resolve on the first wake-up for any of `lanes`, after `ms`, or when `signal` aborts. */
  wait(lanes: string[], ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        for (const lane of lanes) this.byLane.get(lane)?.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      for (const lane of lanes) {
        let set = this.byLane.get(lane);
        if (!set) this.byLane.set(lane, (set = new Set()));
        set.add(done);
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wake(lane: string): void {
    const set = this.byLane.get(lane);
    if (!set) return;
    for (const done of [...set]) done();
  }

  private wakeAll(): void {
    for (const lane of [...this.byLane.keys()]) this.wake(lane);
  }
}
