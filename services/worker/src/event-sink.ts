import { MAX_EVENT_MESSAGE, sanitizeJson, sanitizeText } from '@ocr/contracts';
import { Backoff, sleep, type Logger } from '@ocr/runtime';
import { LeaseLostError, type WorkerEvent, type WorkerProtocol } from './protocol.js';
import { maskJson, noMask, type Masker } from './secret-mask.js';

export interface EventSinkOptions {
  flushMs: number;
  batchSize: number;
  /** Most events held while the API is unreachable; beyond it the oldest unsent (after the first) drop. */
  maxPending?: number;
  onLeaseLost: () => void;
  /**
   * The run's current masker (it changes once the run's secrets are loaded): secret values are masked in
   * every event before it is queued (see secret-mask.ts).
   */
  masker?: () => Masker;
}

type NewEvent = Omit<WorkerEvent, 'seq' | 'ts'> & { ts?: string };

/**
 * Numbers a run attempt's events (1, 2, 3…) and ships them in batches (by size or every `flushMs`), one
 * request in flight at a time so order is kept. A failed request is retried with backoff and the same
 * numbers, so the API's idempotent append never stores a line twice. On `lease_lost` the sink goes silent
 * for good and tells the run to stop.
 */
export class EventSink {
  private seq = 0;
  private pending: WorkerEvent[] = [];
  private inflight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lost = false;
  private dropped = 0;
  private readonly backoff = new Backoff({ initialMs: 100, maxMs: 5_000 });

  constructor(
    private readonly api: WorkerProtocol,
    private readonly runId: string,
    private readonly leaseToken: string,
    private readonly log: Logger,
    private readonly options: EventSinkOptions,
  ) {}

  get leaseLost(): boolean {
    return this.lost;
  }

  /** Queue one event; it is numbered now, in call order. `step` names it when the event itself does not. */
  emit(event: NewEvent, step?: string): void {
    if (this.lost) return;
    this.pending.push(
      clean(
        event,
        event.step ?? step ?? null,
        this.options.masker?.() ?? noMask,
        ++this.seq,
        event.ts ?? isoNow(),
      ),
    );
    const max = this.options.maxPending ?? 100_000;
    if (this.pending.length > max) {
      // Keep the first event (context) and the newest; count what was dropped for the notice.
      this.pending.splice(1, 1);
      this.dropped++;
    }
    if (this.pending.length >= this.options.batchSize) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.options.flushMs);
  }

  /** Send everything queued so far; resolves when the API has it (or the lease is lost). */
  async flush(): Promise<void> {
    while (!this.lost && (this.pending.length > 0 || this.inflight)) {
      this.kick();
      await this.inflight;
    }
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inflight || this.lost || this.pending.length === 0) return;
    this.inflight = this.send().finally(() => {
      this.inflight = undefined;
      if (this.pending.length > 0 && !this.lost) this.timer ??= setTimeout(() => this.kick(), 0);
    });
  }

  private async send(): Promise<void> {
    if (this.dropped > 0) {
      const notice = `event buffer overflow: ${this.dropped} events dropped while the API was unreachable`;
      this.pending.splice(1, 0, {
        seq: ++this.seq,
        ts: new Date().toISOString(),
        level: 'warn',
        type: 'notice',
        step: null,
        message: notice,
      });
      this.dropped = 0;
    }
    const batch = this.pending.slice(0, this.options.batchSize);
    try {
      await this.api.appendEvents(this.runId, this.leaseToken, batch);
      this.pending.splice(0, batch.length);
      this.backoff.reset();
    } catch (err) {
      if (err instanceof LeaseLostError) {
        this.lost = true;
        this.pending = [];
        this.options.onLeaseLost();
        return;
      }
      const retryInMs = this.backoff.next();
      this.log.warn({ err, runId: this.runId, retryInMs }, 'event append failed; will retry');
      await sleep(retryInMs);
    }
  }

  /**
   * Everything not yet sent, handed over to travel with the completion (one round trip instead of two).
   * Waits for the request in flight first so the API stores events in the order they were numbered.
   */
  async takeRemaining(): Promise<WorkerEvent[]> {
    if (this.pending.length > this.options.batchSize) await this.flush();
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inflight) await this.inflight;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lost) return [];
    const rest = this.pending;
    this.pending = [];
    return rest;
  }

  /** Stop timers (the run is over or lost). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * The current time as the event's `ts`, formatted once per millisecond: a claim's runs start together and
 * each emits its events in the same few milliseconds, and `toISOString` costs about a microsecond.
 */
let isoMs = -1;
let isoText = '';
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/**
 * An event the API will store as sent: secret values masked in its message and data, then its text cleaned
 * (NUL, invalid UTF-16 → U+FFFD), the message cut to the protocol's limit, data bounded in depth. What a
 * step prints must never make an append be refused. Masking comes first, so a cut never splits a secret
 * into a part the masker no longer recognises. One new object per event, its fields written one by one:
 * `{ ...event, seq, ts }` (a spread, then properties the source lacks) takes V8's slow path, about 3 µs
 * an event against 0.2 µs (measured on Node 20), and three events a run made it the worker's largest cost.
 */
function clean(event: NewEvent, step: string | null, mask: Masker, seq: number, ts: string): WorkerEvent {
  const text = mask(event.message);
  const out: WorkerEvent = {
    seq,
    ts,
    level: event.level,
    type: sanitizeText(event.type).slice(0, 100) || 'log',
    step: step === null ? null : sanitizeText(step).slice(0, 200),
    message: sanitizeText(
      text.length > MAX_EVENT_MESSAGE ? text.slice(0, MAX_EVENT_MESSAGE - 1) + '…' : text,
    ),
  };
  if (event.data !== undefined) out.data = sanitizeJson(maskJson(event.data, mask)) as WorkerEvent['data'];
  return out;
}
