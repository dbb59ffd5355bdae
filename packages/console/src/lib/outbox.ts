import type { OcrClient } from '@ocr/client';
import type { CreateRunT, RunT } from './types.js';

/**
 * An operator's action on its way to the API. It is plain data (no callbacks, never the token), so it can
 * be stored and sent again after a reload; `key` is its idempotency key, which makes sending it twice
 * (a lost answer, a reload mid-request, two tabs flushing the same store) do it once on the server.
 */
export type PendingAction = (
  { kind: 'cancel'; run: RunT } | { kind: 'retry'; run: RunT } | { kind: 'create'; body: CreateRunT }
) & {
  key: string;
  state: ActionState;
  /** When it was taken (ms since the epoch, with a tie-breaker): stored actions are sent in this order. */
  order: number;
};

/** An action as the operator takes it, before the outbox gives it a key. */
export type NewAction = { kind: 'cancel' | 'retry'; run: RunT } | { kind: 'create'; body: CreateRunT };

/** `sending`: a request is out; `queued`: waiting for the connection to come back. */
export type ActionState = 'sending' | 'queued';

/** What the API answered for an action: the run it cancelled or created, or its error. */
export type Settled = { ok: true; run: RunT } | { ok: false; error: unknown };

/** A fetch that never reached the API (offline, connection refused), as opposed to an API answer. */
export const isNetworkError = (err: unknown) =>
  err instanceof TypeError || (err as { name?: string })?.name === 'TimeoutError';

/** One line for an action, for the pending list and toasts. */
export function describe(action: PendingAction): string {
  if (action.kind === 'create') return `start ${action.body.template} on lane ${action.body.lane ?? '…'}`;
  return `${action.kind} ${action.run.template} ${action.run.id.slice(0, 8)}`;
}

const RETRY_MS = 3000;

/**
 * Actions wait here until the API has answered them. Each is stored (localStorage, per token) before its
 * first request goes out, and removed only once the API answered it, so neither a dropped connection nor
 * a reload loses one; after a reload, whatever was stored is sent again, in order, when the connection is
 * back. A request that fails on the network stays at its place and is tried again.
 * Each action has its own storage entry (`<prefix>.<key>`): two tabs of the same token never overwrite
 * each other's actions, and if both send a stored one, its idempotency key makes it happen once.
 */
export class Outbox {
  private items: PendingAction[];
  private online = false;
  private flushing = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private waiters = new Map<string, (settled: Settled) => void>();
  private lastOrder = 0;

  constructor(
    private readonly client: OcrClient,
    /** localStorage key prefix; the caller scopes it to the signed-in token's id. */
    private readonly prefix: string,
    private readonly events: {
      /** The list changed (shown as the pending actions). */
      changed: (items: PendingAction[]) => void;
      /** The API answered an action (also for actions stored by an earlier page). */
      settled: (action: PendingAction, settled: Settled) => void;
    },
  ) {
    this.items = load(prefix).map((a) => ({ ...a, state: 'queued' as const }));
  }

  list(): PendingAction[] {
    return this.items;
  }

  /** Store the action, send it if connected; resolves with the API's answer whenever that comes. */
  perform(action: NewAction): Promise<Settled> {
    const item: PendingAction = {
      ...action,
      key: crypto.randomUUID(),
      state: 'queued',
      order: Math.max(Date.now(), this.lastOrder + 0.001),
    };
    this.lastOrder = item.order;
    const answered = new Promise<Settled>((resolve) => this.waiters.set(item.key, resolve));
    this.items = [...this.items, item];
    this.store(item);
    void this.flush();
    return answered;
  }

  setOnline(online: boolean): void {
    this.online = online;
    if (online) void this.flush();
  }

  /** Drop every stored action (sign-out: the operator chose to leave them). */
  discard(): void {
    for (const item of this.items) this.unstore(item.key);
    this.items = [];
    this.events.changed(this.items);
  }

  /** Send queued actions in order; stops at the first that cannot reach the API. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.online) {
        const item = this.items.find((a) => a.state === 'queued');
        if (!item) break;
        if (!(await this.attempt(item))) break;
      }
    } finally {
      this.flushing = false;
    }
  }

  private send(item: PendingAction): Promise<{ run: RunT }> {
    const opts = { idempotencyKey: item.key };
    if (item.kind === 'cancel') return this.client.runs.cancel(item.run.id, opts);
    if (item.kind === 'retry') return this.client.runs.retry(item.run.id, opts);
    return this.client.runs.create(item.body, opts);
  }

  /** Returns false when the request could not reach the API (the item stays queued). */
  private async attempt(item: PendingAction): Promise<boolean> {
    this.update(item.key, 'sending');
    let settled: Settled;
    try {
      settled = { ok: true, run: (await this.send(item)).run };
    } catch (err) {
      if (isNetworkError(err)) {
        // The socket may still look open while HTTP fails: hold the queue and try again shortly.
        this.update(item.key, 'queued');
        clearTimeout(this.retry);
        this.retry = setTimeout(() => void this.flush(), RETRY_MS);
        return false;
      }
      settled = { ok: false, error: err };
    }
    this.items = this.items.filter((a) => a.key !== item.key);
    this.unstore(item.key);
    this.events.settled(item, settled);
    this.waiters.get(item.key)?.(settled);
    this.waiters.delete(item.key);
    return true;
  }

  /** The state is shown, not stored: every stored action is sent again after a reload. */
  private update(key: string, state: ActionState): void {
    this.items = this.items.map((a) => (a.key === key ? { ...a, state } : a));
    this.events.changed(this.items);
  }

  private store(item: PendingAction): void {
    try {
      localStorage.setItem(`${this.prefix}.${item.key}`, JSON.stringify(item));
    } catch {
      // Storage full or refused (private mode): the outbox still works for this page's lifetime.
    }
    this.events.changed(this.items);
  }

  private unstore(key: string): void {
    try {
      localStorage.removeItem(`${this.prefix}.${key}`);
    } catch {
      // As in store().
    }
    this.events.changed(this.items);
  }
}

/** The stored actions under `prefix`, oldest first. */
function load(prefix: string): PendingAction[] {
  const found: PendingAction[] = [];
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const name = localStorage.key(i);
      if (!name?.startsWith(`${prefix}.`)) continue;
      try {
        const parsed = JSON.parse(localStorage.getItem(name) ?? 'null') as PendingAction;
        if (isAction(parsed)) found.push(parsed);
      } catch {
        // Not JSON: not an entry this outbox wrote.
      }
    }
  } catch {
    return [];
  }
  return found.sort((a, b) => a.order - b.order);
}

/** Stored data is input like any other: an entry that is not an action we wrote is dropped. */
function isAction(a: PendingAction): boolean {
  if (!a || typeof a !== 'object' || typeof a.key !== 'string' || typeof a.order !== 'number') return false;
  if (a.kind === 'create') return typeof a.body?.template === 'string';
  return (a.kind === 'cancel' || a.kind === 'retry') && typeof a.run?.id === 'string';
}
