import { setTimeout as delay } from 'node:timers/promises';

/** Sleep that ends early (resolving) when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch {
    // aborted: the caller checks its own signal
  }
}

/** `ms` spread by ±`ratio` so a fleet of timers does not fire in lockstep. */
export function jitter(ms: number, ratio = 0.2): number {
  return Math.round(ms * (1 - ratio + Math.random() * 2 * ratio));
}
