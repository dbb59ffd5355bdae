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
  /** The tab that took it (see `claimTab`): another open tab leaves it to that tab while it is open. */
  tab?: string;
  /** Shown, not stored: the tab that took it is open (in this browser) and sends it. */
  elsewhere?: boolean;
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
 * A random UUID (v4). `crypto.randomUUID` exists only in secure contexts (https, localhost); a console
 * served over plain http elsewhere still needs ids, and `crypto.getRandomValues` exists in every context.
 */
export function newId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The Web Locks API where the page has it: every browser the console supports, in a secure context (https
 * or localhost); a console served over plain http elsewhere has none (see the Outbox comment).
 */
const webLocks = (): LockManager | undefined =>
  typeof navigator !== 'undefined' && navigator.locks ? navigator.locks : undefined;

const TAB_KEY = 'ocr.tab';
const tabLock = (tab: string) => `ocr.tab.${tab}`;

/**
 * This tab's id, and the proof that the tab is open: the page holds the Web Lock `ocr.tab.<id>` for as
 * long as it lives, and the browser releases it when the tab is closed, crashes or leaves the console. So
 * another tab tells an open tab's stored actions from a closed one's by the lock, not by guessing from
 * time (a slow tab is not a closed one). The id is kept in sessionStorage, so a reloaded tab keeps its
 * actions; a duplicated tab inherits that sessionStorage, finds the lock held and takes a new id.
 */
export async function claimTab(locks = webLocks()): Promise<string> {
  let id = readTab() ?? newId();
  if (locks && !(await holdForLife(locks, tabLock(id)))) {
    id = newId();
    await holdForLife(locks, tabLock(id));
  }
  try {
    sessionStorage.setItem(TAB_KEY, id);
  } catch {
    // Storage refused: the id holds for this page only, and a reload makes it a closed tab's.
  }
  return id;
}

let claimed: Promise<string> | undefined;
/** This page's tab id (see `claimTab`), claimed once per page load. */
export const thisTab = (): Promise<string> => (claimed ??= claimTab());

function readTab(): string | null {
  try {
    return sessionStorage.getItem(TAB_KEY);
  } catch {
    return null;
  }
}

/** Take the lock if it is free and keep it until the page goes away; false if another page holds it. */
function holdForLife(locks: LockManager, name: string): Promise<boolean> {
  return new Promise((resolve) => {
    locks
      .request(name, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        return lock ? new Promise<never>(() => undefined) : undefined;
      })
      .catch(() => resolve(false));
  });
}

/**
 * Actions wait here until the API has answered them. Each is stored (localStorage, per token) before its
 * first request goes out, and removed only once the API answered it, so neither a dropped connection nor
 * a reload loses one; after a reload, whatever was stored is sent again, in order, when the connection is
 * back. A request that fails on the network stays at its place and is tried again.
 *
 * Each action has its own storage entry (`<prefix>.<key>`), so two tabs of the same token never overwrite
 * each other's, and records the tab that took it. Open tabs follow each other through `sync()` (on the
 * `storage` event): an action another tab queued is listed here at once, marked `elsewhere` while that
 * tab is open (it sends its own), and sent from here as soon as that tab's lock is released (the tab was
 * closed); one another tab answered leaves the list. Sending an action holds the Web Lock
 * `<prefix>.sending.<key>` and first checks that it is still stored, so two tabs never send it at the
 * same time and a tab never sends again what another tab had answered; should a request reach the API
 * twice anyway (an answer lost on the network, a tab torn down mid-request), its idempotency key makes it
 * happen once. Without Web Locks, every open tab sends every stored action, and the key alone keeps each
 * to once.
 */
export class Outbox {
  private items: PendingAction[];
  private online = false;
  private flushing = false;
  private closed = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private waiters = new Map<string, (settled: Settled) => void>();
  private lastOrder = 0;
  /** Lock requests waiting for another tab to close; aborted when this outbox closes. */
  private watching = new Map<string, AbortController>();

  constructor(
    private readonly client: OcrClient,
    /** localStorage key prefix; the caller scopes it to the signed-in token's id. */
    private readonly prefix: string,
    /** This tab (`thisTab()`): its own stored actions are sent at once, even after a reload. */
    private readonly tab: string,
    private readonly events: {
      /** The list changed (shown as the pending actions). */
      changed: (items: PendingAction[]) => void;
      /** The API answered an action (also for actions stored by an earlier page or another tab). */
      settled: (action: PendingAction, settled: Settled) => void;
      /** The action could not be stored (storage full or refused): it lives only as long as this page. */
      unsaved?: (action: PendingAction) => void;
    },
    private readonly locks: LockManager | undefined = webLocks(),
  ) {
    this.items = load(prefix).map((a) => this.track(a));
  }

  list(): PendingAction[] {
    return this.items;
  }

  /** Store the action, send it if connected; resolves with the API's answer whenever that comes. */
  perform(action: NewAction): Promise<Settled> {
    const item: PendingAction = {
      ...action,
      key: newId(),
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
    this.online = online;
    if (online) void this.flush();
  }

  /**
   * Another tab of this token changed the stored actions: list the ones it queued and drop the ones it
   * answered, except those this page is sending or waits on (sending them again returns the same answer).
   */
  sync(): void {
    if (this.closed) return;
    const stored = load(this.prefix);
    const storedKeys = new Set(stored.map((a) => a.key));
    const known = new Set(this.items.map((a) => a.key));
    const kept = this.items.filter(
      (a) => storedKeys.has(a.key) || a.state === 'sending' || this.waiters.has(a.key),
    );
    const added = stored.filter((a) => !known.has(a.key)).map((a) => this.track(a));
    if (added.length === 0 && kept.length === this.items.length) return;
    this.items = [...kept, ...added].sort((a, b) => a.order - b.order);
    this.changed();
    if (added.some((a) => !a.elsewhere)) void this.flush();
  }

  /** This page is done with the outbox (signed out or another token): stop sending; what is stored stays. */
  close(): void {
    this.closed = true;
    this.online = false;
    clearTimeout(this.retry);
    for (const abort of this.watching.values()) abort.abort();
    this.watching.clear();
  }

  /**
   * Sign-out: drop what this page would send (its own actions and those of closed tabs: the operator saw
   * them listed and chose to leave); an open tab's actions stay with that tab.
   */
  discard(): void {
    for (const item of this.items) if (!item.elsewhere) this.unstore(item.key);
    this.items = [];
    this.changed();
  }

  /** Send this page's queued actions in order; stops at the first that cannot reach the API. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.online) {
        const item = this.items.find((a) => a.state === 'queued' && !a.elsewhere);
        if (!item) break;
        if (!(await this.attempt(item))) break;
      }
    } finally {
      this.flushing = false;
    }
  }

  /** A stored action as this page lists it: `elsewhere` while the tab that took it is open. */
  private track(stored: PendingAction): PendingAction {
    const item: PendingAction = { ...stored, state: 'queued', elsewhere: undefined };
    // No tab: stored by a console before tab ids, whose tab is long gone. Without Web Locks nobody can
    // tell, so every tab sends it (the idempotency key keeps it to once).
    if (!this.locks || item.tab === undefined || item.tab === this.tab) return item;
    this.watch(item.tab);
    return { ...item, elsewhere: true };
  }

  /**
   * Wait for another tab's lock (granted once that tab is gone), then send what that tab left. Asked afresh
   * for every action a tab stores, never remembered: a tab seen going may have been reloading, and is back
   * under the same id, sending its own actions again.
   */
  private watch(tab: string): void {
    if (!this.locks || this.watching.has(tab)) return;
    const abort = new AbortController();
    this.watching.set(tab, abort);
    // Shared and released at once: every tab waiting for this one is let through together, and a reload of
    // that tab (same id) is held up for no longer than this callback.
    this.locks
      .request(tabLock(tab), { mode: 'shared', signal: abort.signal }, () => {
        this.watching.delete(tab);
        if (this.closed) return;
        this.items = this.items.map((a) => (a.tab === tab ? { ...a, elsewhere: undefined } : a));
        this.changed();
        void this.flush();
      })
      .catch(() => undefined); // Aborted by close().
  }

  private send(item: PendingAction): Promise<{ run: RunT }> {
    const opts = { idempotencyKey: item.key };
    if (item.kind === 'cancel') return this.client.runs.cancel(item.run.id, opts);
    if (item.kind === 'retry') return this.client.runs.retry(item.run.id, opts);
    return this.client.runs.create(item.body, opts);
  }

  /** One tab at a time sends a given action (see the class comment). */
  private async attempt(item: PendingAction): Promise<boolean> {
    if (!this.locks) return this.attemptHere(item);
    return await this.locks.request(`${this.prefix}.sending.${item.key}`, () => this.attemptHere(item));
  }

  /** Returns false when the request could not reach the API (the item stays queued) or this page closed. */
  private async attemptHere(item: PendingAction): Promise<boolean> {
    if (this.closed) return false;
    if (!this.items.some((a) => a.key === item.key)) return true;
    if (!this.waiters.has(item.key) && !isStored(this.prefix, item.key)) {
      // Answered by another tab (or dropped by its sign-out) while this page waited: nothing to send.
      this.items = this.items.filter((a) => a.key !== item.key);
      this.changed();
      return true;
    }
    this.update(item.key, 'sending');
    let settled: Settled;
    try {
      settled = { ok: true, run: (await this.send(item)).run };
    } catch (err) {
      if (isNetworkError(err)) {
        // The socket may still look open while HTTP fails: hold the queue and try again shortly.
        this.update(item.key, 'queued');
        clearTimeout(this.retry);
        if (!this.closed) this.retry = setTimeout(() => void this.flush(), RETRY_MS);
        return false;
      }
      settled = { ok: false, error: err };
    }
    this.items = this.items.filter((a) => a.key !== item.key);
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
      // Storage full or refused (private mode): the action is still sent from this page, but neither a
      // reload nor another tab would find it; the operator is told.
      this.events.unsaved?.(item);
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

/** Whether the action is still stored; if storage cannot be read, assume so (sending again is harmless). */
function isStored(prefix: string, key: string): boolean {
  try {
    return localStorage.getItem(`${prefix}.${key}`) !== null;
  } catch {
    return true;
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
