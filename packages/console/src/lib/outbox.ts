/** An action the operator took; `send` performs it against the API. */
export interface QueuedAction {
  id: number;
  label: string;
  send: () => Promise<unknown>;
  onDone?: (result: unknown) => void;
  onError?: (err: unknown) => void;
}

/** A fetch that never reached the API (offline, connection refused), as opposed to an API answer. */
export const isNetworkError = (err: unknown) =>
  err instanceof TypeError || (err as { name?: string })?.name === 'TimeoutError';

/**
 * Actions taken while the connection is down wait here and are sent, in order, once it is back. An action
 * whose request fails on the network is put back at the head of the queue rather than dropped.
 */
export class Outbox {
  online = false;
  private items: QueuedAction[] = [];
  private next = 1;
  private flushing = false;
  private retry: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly changed: (items: QueuedAction[]) => void) {}

  /** Run now if connected, else queue. */
  async perform(action: Omit<QueuedAction, 'id'>): Promise<void> {
    const item = { ...action, id: this.next++ };
    if (!this.online) return this.enqueue(item);
    await this.attempt(item);
  }

  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.online && this.items.length > 0) {
        const item = this.items.shift()!;
        this.changed([...this.items]);
        if (!(await this.attempt(item))) break;
      }
    } finally {
      this.flushing = false;
    }
  }

  private enqueue(item: QueuedAction, front = false): void {
    if (front) this.items.unshift(item);
    else this.items.push(item);
    this.changed([...this.items]);
  }

  /** Returns false when the request could not reach the API (the item is queued again). */
  private async attempt(item: QueuedAction): Promise<boolean> {
    try {
      item.onDone?.(await item.send());
      return true;
    } catch (err) {
      if (isNetworkError(err)) {
        // The socket may still look open while HTTP fails: hold the queue and try again shortly.
        this.enqueue(item, true);
        clearTimeout(this.retry);
        this.retry = setTimeout(() => void this.flush(), 3000);
        return false;
      }
      item.onError?.(err);
      return true;
    }
  }
}
