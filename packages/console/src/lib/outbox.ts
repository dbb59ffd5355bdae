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
  /** The tab that took it (see `tabId`), so another open tab leaves it to that tab while it is there. */
  tab?: string;
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
 * How long an action taken in another tab is left to that tab once this one is online: long enough for an
 * open tab to have it answered (and gone from storage), short enough that one left by a closed tab is not
 * kept waiting. Sending it from both tabs would still do it once (idempotency key), just not twice per action.
 */
export const ADOPT_AFTER_MS = 5000;

/** This tab's id: kept in sessionStorage, so it survives a reload of the tab and no other tab shares it. */
export function tabId(): string {
  try {
    const id = sessionStorage.getItem('ocr.tab') ?? crypto.randomUUID();
    sessionStorage.setItem('ocr.tab', id);
    return id;
  } catch {
    return crypto.randomUUID();
  }
}

/**
 * Actions wait here until the API has answered them. Each is stored (localStorage, per token) before its
 * first request goes out, and removed only once the API answered it, so neither a dropped connection nor
 * a reload loses one; after a reload, whatever was stored is sent again, in order, when the connection is
 * back. A request that fails on the network stays at its place and is tried again.
 * Each action has its own storage entry (`<prefix>.<key>`): two tabs of the same token never overwrite
 * each other's actions, and if both send a stored one, its idempotency key makes it happen once.
 * Open tabs follow each other through `sync()` (on the `storage` event): an action another tab queued is
 * listed here at once, and sent from here too if it is still stored `ADOPT_AFTER_MS` after this tab is
 * online (that tab may have been closed); one another tab answered leaves the list.
 */
export class Outbox {
  private items: PendingAction[];
  private online = false;
  private flushing = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private wake: ReturnType<typeof setTimeout> | undefined;
  /** When this page first saw each action (load or sync): another tab's is left to it for a while after. */
  private seen = new Map<string, number>();
  private onlineSince = 0;
  private waiters = new Map<string, (settled: Settled) => void>();
  private lastOrder = 0;
  private closed = false;

  constructor(
    private readonly client: OcrClient,
    /** localStorage key prefix; the caller scopes it to the signed-in token's id. */
    private readonly prefix: string,
    /** This tab (`tabId()`): its own stored actions are sent at once, even after a reload. */
    private readonly tab: string,
    private readonly events: {
      /** The list changed (shown as the pending actions). */
      changed: (items: PendingAction[]) => void;
      /** The API answered an action (also for actions stored by an earlier page). */
      settled: (action: PendingAction, settled: Settled) => void;
    },
  ) {
    this.items = load(prefix).map((a) => ({ ...a, state: 'queued' as const }));
    for (const a of this.items) this.seen.set(a.key, Date.now());
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
      tab: this.tab,
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
    if (this.closed) return;
    if (online && !this.online) this.onlineSince = Date.now();
    this.online = online;
    if (online) void this.flush();
  }

  /**
   * Another tab of this token changed the stored actions: take the ones it queued (they are this browser's
   * to send, and its tab may be gone by the time the connection is back) and drop the ones it answered,
   * except those this page is sending or waits on (sending them again returns the same answer).
   */
  sync(): void {
    if (this.closed) return;
    const stored = load(this.prefix);
    const storedKeys = new Set(stored.map((a) => a.key));
    const known = new Set(this.items.map((a) => a.key));
    const kept = this.items.filter(
      (a) => storedKeys.has(a.key) || a.state === 'sending' || this.waiters.has(a.key),
    );
    const adopted = stored.filter((a) => !known.has(a.key)).map((a) => ({ ...a, state: 'queued' as const }));
    if (adopted.length === 0 && kept.length === this.items.length) return;
    for (const a of this.items) if (!kept.includes(a)) this.seen.delete(a.key);
    for (const a of adopted) this.seen.set(a.key, Date.now());
    this.items = [...kept, ...adopted].sort((a, b) => a.order - b.order);
    this.changed();
    if (adopted.length > 0) void this.flush();
  }

  /** This page is done with the outbox (signed out or replaced): stop sending; what is stored stays. */
  close(): void {
    this.closed = true;
    this.online = false;
    clearTimeout(this.retry);
    clearTimeout(this.wake);
  }

  /** Drop every stored action (sign-out: the operator chose to leave them). */
  discard(): void {
    for (const item of this.items) this.unstore(item.key);
    this.items = [];
    this.changed();
  }

  /**
   * Send queued actions in order (another tab's once it is due, see `dueAt`); stops at the first that
   * cannot reach the API. Whatever is left is sent by the next flush: the connection coming back, the retry
   * timer, or the wake-up set here for another tab's action that is not due yet.
   */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.online) {
        const now = Date.now();
        const item = this.items.find((a) => a.state === 'queued' && this.dueAt(a) <= now);
        if (!item) break;
        if (!(await this.attempt(item))) break;
      }
    } finally {
      this.flushing = false;
    }
    // Only actions not due yet: a due one that failed on the network waits for the retry timer instead.
    const now = Date.now();
    const later = this.items
      .filter((a) => a.state === 'queued')
      .map((a) => this.dueAt(a))
      .filter((due) => due > now);
    clearTimeout(this.wake);
    if (this.online && later.length > 0) {
      this.wake = setTimeout(() => void this.flush(), Math.max(0, Math.min(...later) - Date.now()));
    }
  }

  /** This tab's actions are due at once; another tab's `ADOPT_AFTER_MS` after this page saw it and is online. */
  private dueAt(a: PendingAction): number {
    if (a.tab === this.tab) return 0;
    return Math.max(this.seen.get(a.key) ?? 0, this.onlineSince) + ADOPT_AFTER_MS;
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
    this.seen.delete(item.key);
    this.unstore(item.key);
    if (!this.closed) this.events.settled(item, settled);
    this.waiters.get(item.key)?.(settled);
    this.waiters.delete(item.key);
    return true;
  }

  /** The state is shown, not stored: every stored action is sent again after a reload. */
  private update(key: string, state: ActionState): void {
    this.items = this.items.map((a) => (a.key === key ? { ...a, state } : a));
    this.changed();
  }

  /** A closed outbox (its page moved on) still finishes what it sent, but no longer shows anything. */
  private changed(): void {
    if (!this.closed) this.events.changed(this.items);
  }

  private store(item: PendingAction): void {
    try {
      localStorage.setItem(`${this.prefix}.${item.key}`, JSON.stringify(item));
    } catch {
      // Storage full or refused (private mode): the outbox still works for this page's lifetime.
    }
    this.changed();
  }

  private unstore(key: string): void {
    try {
      localStorage.removeItem(`${this.prefix}.${key}`);
    } catch {
      // As in store().
    }
    this.changed();
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
