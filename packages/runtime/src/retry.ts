import { sleep } from './time.js';

/** Exponential backoff: `initialMs × factor^(n−1)`, capped at `maxMs`, spread by ±`jitter` (a ratio). */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Default 2. */
  factor?: number;
  /** Default 0.2 (±20 %), so a fleet retrying the same outage does not come back in lockstep. */
  jitter?: number;
}

/** The delays of one retry sequence; `reset()` after a success starts it over. */
export class Backoff {
  private failures = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** The delay before the next try (and count one more failure). */
  next(): number {
    const { initialMs, maxMs, factor = 2, jitter = 0.2 } = this.options;
    const base = Math.min(maxMs, initialMs * factor ** this.failures++);
    return Math.round(base * (1 - jitter + Math.random() * 2 * jitter));
  }

  /** Failures counted so far. */
  get attempt(): number {
    return this.failures;
  }

  reset(): void {
    this.failures = 0;
  }
}

export interface RetryOptions extends BackoffOptions {
  /** Most tries in all (default: unlimited, bounded by `deadlineMs` or `signal`). */
  attempts?: number;
  /** Stop retrying once this much time (ms) has passed since the first try. */
  deadlineMs?: number;
  /** Is this error worth another try? Default: every error. */
  retryable?: (err: unknown) => boolean;
  /** Told before each wait (for a log line). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

/**
 * Call `fn` until it resolves; an error that is not retryable, the last attempt, the deadline or an abort
 * rethrows the last error. The one retry-with-backoff of the services (claims, appends, completions, uploads).
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const backoff = new Backoff(options);
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const delayMs = backoff.next();
      const out =
        (options.retryable && !options.retryable(err)) ||
        (options.attempts !== undefined && attempt >= options.attempts) ||
        (options.deadlineMs !== undefined && Date.now() + delayMs - started > options.deadlineMs) ||
        options.signal?.aborted;
      if (out) throw err;
      options.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, options.signal);
      if (options.signal?.aborted) throw err;
    }
  }
}
