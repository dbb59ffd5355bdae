import type { OcrClient } from '@ocr/client';
import type { CreateRunT, RunT } from './types.js';

/**
 * An operator's action on its way to the API. It is plain data (no callbacks, never the token), so it can
 * be stored and sent again after a reload; `key` is its idempotency key, which makes sending it twice
 * (a lost answer, a reload mid-request, two tabs flushing the same store) do it once on the server.
 */
export type PendingAction =
  | { key: string; kind: 'cancel'; run: RunT; state: ActionState; at: string }
  | { key: string; kind: 'retry'; run: RunT; state: ActionState; at: string }
  | { key: string; kind: 'create'; body: CreateRunT; state: ActionState; at: string };

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
 */
export class Outbox {
  private items: PendingAction[];
  private online = false;
  private flushing = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private waiters = new Map<string, (settled: Settled) => void>();

  constructor(
    private readonly client: OcrClient,
    /** localStorage key; the caller scopes it to the signed-in token's id. */
    private readonly storageKey: string,
    private readonly events: {
      /** The list changed (shown as the pending actions). */
      changed: (items: PendingAction[]) => void;
      /** The API answered an action (also for actions stored by an earlier page). */
      settled: (action: PendingAction, settled: Settled) => void;
    },
  ) {
    this.items = load(storageKey).map((a) => ({ ...a, state: 'queued' as const }));
  }

  list(): PendingAction[] {
    return this.items;
  }

  /** Store the action, send it if connected; resolves with the API's answer whenever that comes. */
  perform(action: NewAction): Promise<Settled> {
    const item = {
      ...action,
      key: crypto.randomUUID(),
      state: 'queued',
      at: new Date().toISOString(),
    } as PendingAction;
    const answered = new Promise<Settled>((resolve) => this.waiters.set(item.key, resolve));
    this.items = [...this.items, item];
    this.save();
    void this.flush();
    return answered;
  }

  setOnline(online: boolean): void {
    this.online = online;
    if (online) void this.flush();
  }

  /** Drop every stored action (sign-out: the operator chose to leave them). */
  discard(): void {
    this.items = [];
    this.save();
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
    this.save();
    this.events.settled(item, settled);
    this.waiters.get(item.key)?.(settled);
    this.waiters.delete(item.key);
    return true;
  }

  private update(key: string, state: ActionState): void {
    this.items = this.items.map((a) => (a.key === key ? { ...a, state } : a));
    this.save();
  }

  private save(): void {
    try {
      if (this.items.length === 0) localStorage.removeItem(this.storageKey);
      else localStorage.setItem(this.storageKey, JSON.stringify(this.items));
    } catch {
      // Storage full or refused (private mode): the outbox still works for this page's lifetime.
    }
    this.events.changed(this.items);
  }
}

function load(storageKey: string): PendingAction[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(storageKey) ?? '[]');
    return Array.isArray(parsed) ? (parsed as PendingAction[]).filter(isAction) : [];
  } catch {
    return [];
  }
}

/** Stored data is input like any other: an entry that is not an action we wrote is dropped. */
function isAction(a: PendingAction): boolean {
  if (!a || typeof a !== 'object' || typeof a.key !== 'string') return false;
  if (a.kind === 'create') return typeof a.body?.template === 'string';
  return (a.kind === 'cancel' || a.kind === 'retry') && typeof a.run?.id === 'string';
}
