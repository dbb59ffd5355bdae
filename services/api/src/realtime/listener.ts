import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { createListenClient, ENQUEUE_CHANNEL, EVENTS_CHANNEL, publishHints, STATUS_CHANNEL } from '@ocr/db';
import { Backoff, type Logger } from '@ocr/runtime';

/** Wake-up hints of one committed change, published by the API after the commit. */
export interface Hints {
  /** Lanes that got runs to claim. */
  lanes?: Iterable<string>;
  /** Runs with new events (and their newest seq). */
  events?: Iterable<{ id: string; seq: number }>;
  /** Runs whose status changed. */
  status?: Iterable<string>;
}

/**
 * One LISTEN connection per API process: a direct, session-level `pg.Client` (a transaction-mode pooler
 * would lose the LISTEN). Notifications are wake-up hints only; on every (re)connect it emits
 * `reconnected` so readers re-check the tables and nothing missed while it was down is lost.
 * Emits: `enqueue` (lane), `event` (runId, seq), `status` (runId), `reconnected`, `down`.
 *
 * It also carries this process's own hints (`publish`, after a commit made with `notify: false`): they
 * wake this process's readers at once, and reach the other replicas coalesced, as one multi-row NOTIFY per
 * flush (one flush in flight; whatever arrives meanwhile goes in the next). A NOTIFY inside each hot commit
 * would serialise those commits server-wide (Postgres holds a global lock from the NOTIFY through the WAL
 * flush). Its own notifications come back on this connection and are skipped by backend pid.
 */
export class Listener extends EventEmitter {
  private client: pg.Client | undefined;
  private stopped = false;
  /** Reconnect delays: the services' one backoff (jittered, so replicas do not reconnect in lockstep). */
  private readonly backoff = new Backoff({ initialMs: 100, maxMs: 5_000 });
  private timer: NodeJS.Timeout | undefined;
  reconnects = 0;
  connected = false;
  /** Hints waiting for the next flush: channel → payloads (a Set coalesces repeats). */
  private outbox = new Map<string, Set<string>>();
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    /** Sends the coalesced NOTIFY while the listening connection is down. */
    private readonly pool?: pg.Pool,
  ) {
    super();
    this.setMaxListeners(0);
  }

  async start(): Promise<void> {
    await this.connect();
  }

  /** The backend pid of the listening session (tests kill it to prove recovery). */
  get pid(): number | undefined {
    return (this.client as unknown as { processID?: number })?.processID;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { client, listen } = createListenClient(this.url, 'ocr-api-listener');
    client.on('notification', (msg) => {
      // Our own hints were dispatched when published.
      if (msg.processId !== (client as unknown as { processID?: number }).processID)
        this.dispatch(msg.channel, msg.payload ?? '');
    });
    client.on('error', (err) => {
      this.log.warn({ err }, 'listener connection error');
      this.lost(client);
    });
    client.on('end', () => this.lost(client));
    try {
      await listen();
      this.client = client;
      this.connected = true;
      this.backoff.reset();
      this.emit('reconnected');
    } catch (err) {
      const retryInMs = this.backoff.next();
      this.log.warn({ err, retryInMs }, 'listener connect failed');
      client.end().catch(() => undefined);
      this.schedule(retryInMs);
    }
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.connected = false;
    this.emit('down');
    if (this.stopped) return;
    this.reconnects++;
    this.emit('reconnect');
    this.schedule(this.backoff.next());
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delayMs);
  }

  /** Wake this process's readers now; tell the other replicas with the next flush. */
  publish(hints: Hints): void {
    for (const lane of hints.lanes ?? []) this.queue(ENQUEUE_CHANNEL, lane);
    for (const { id, seq } of hints.events ?? []) this.queue(EVENTS_CHANNEL, `${id}:${seq}`);
    for (const id of hints.status ?? []) this.queue(STATUS_CHANNEL, id);
    this.flushing ??= this.flush();
  }

  private queue(channel: string, payload: string): void {
    this.dispatch(channel, payload);
    let set = this.outbox.get(channel);
    if (!set) this.outbox.set(channel, (set = new Set()));
    set.add(payload);
  }

  /** Send everything queued, one statement per round, until the outbox stays empty. */
  private async flush(): Promise<void> {
    try {
      // Let the rest of this turn's hints join the first round.
      await new Promise((resolve) => setImmediate(resolve));
      while (this.outbox.size > 0) {
        const channels: string[] = [];
        const payloads: string[] = [];
        for (const [channel, set] of this.outbox) {
          for (const payload of set) {
            channels.push(channel);
            payloads.push(payload);
          }
        }
        this.outbox = new Map();
        const send = this.client ?? this.pool;
        if (!send || this.stopped) return;
        await publishHints(send, channels, payloads).catch((err: unknown) =>
          this.log.warn(
            { err, hints: payloads.length },
            'hint notify failed; other replicas catch up on their fallback tick',
          ),
        );
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private dispatch(channel: string, payload: string): void {
    if (channel === ENQUEUE_CHANNEL) this.emit('enqueue', payload);
    else if (channel === STATUS_CHANNEL) this.emit('status', payload);
    else if (channel === EVENTS_CHANNEL) {
      const [runId, seq] = payload.split(':');
      if (runId) this.emit('event', runId, Number(seq));
    }
  }

  async stop(): Promise<void> {
    await this.flushing;
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
