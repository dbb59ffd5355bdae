import { EventEmitter } from 'node:events';
import pg from 'pg';
import { ENQUEUE_CHANNEL, EVENTS_CHANNEL, STATUS_CHANNEL } from '@ocr/db';
import type { Logger } from '@ocr/runtime';

/**
 * One LISTEN connection per API process: a direct, session-level `pg.Client` (a transaction-mode pooler
 * would lose the LISTEN). Notifications are wake-up hints only; on every (re)connect it emits
 * `reconnected` so readers re-check the tables and nothing missed while it was down is lost.
 * Emits: `enqueue` (lane), `event` (runId, seq), `status` (runId), `reconnected`, `down`.
 */
export class Listener extends EventEmitter {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryMs = 100;
  private timer: NodeJS.Timeout | undefined;
  reconnects = 0;
  connected = false;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
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
    const client = new pg.Client({ connectionString: this.url, application_name: 'ocr-api-listener', keepAlive: true });
    client.on('notification', (msg) => this.dispatch(msg.channel, msg.payload ?? ''));
    client.on('error', (err) => {
      this.log.warn({ err }, 'listener connection error');
      this.lost(client);
    });
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${ENQUEUE_CHANNEL}; LISTEN ${EVENTS_CHANNEL}; LISTEN ${STATUS_CHANNEL};`);
      this.client = client;
      this.connected = true;
      this.retryMs = 100;
      this.emit('reconnected');
    } catch (err) {
      this.log.warn({ err, retryInMs: this.retryMs }, 'listener connect failed');
      client.end().catch(() => undefined);
      this.schedule();
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
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 5_000);
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
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
