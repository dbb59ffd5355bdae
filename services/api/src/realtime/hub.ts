import type { Kysely } from 'kysely';
import {
  getRun,
  laneOverview,
  laneRuns,
  laneStates,
  lastSeqs,
  type Database,
  type RunEventRow,
} from '@ocr/db';
import type { Logger } from '@ocr/runtime';
import { STREAM_BATCH_BYTES, type ServerMessage } from '@ocr/contracts';
import { eventToWire, runToWire } from '../serialize.js';
import { maskRunSecrets } from '../secret-params.js';
import { buildLanes } from '../routes/lanes-view.js';
import type { Listener } from './listener.js';
import { RunFeed, type FeedSubscriber } from './run-feed.js';
import { lanesInScope, runAllowed, type Scope } from '../scope.js';

/** The hub's view of one WebSocket connection. */
export interface StreamClient {
  send(message: ServerMessage): void;
  /** Messages already serialised (UTF-8 JSON), sent as text frames in order. */
  sendFrames(frames: Buffer[]): void;
  /** Bytes queued in the socket and not yet sent. */
  buffered(): number;
  isOpen(): boolean;
  /** The token's lanes and templates: run changes and lane snapshots outside them are not sent. */
  scope?: Scope;
}

/** Past this many queued bytes a consumer is too slow: it is told to resync instead of growing memory. */
export const MAX_BUFFERED = 8 * 1024 * 1024;

/**
 * Fan-out of realtime data to WebSocket clients of this API process: run event feeds (one DB reader per
 * run), run status changes and lane snapshots. Fed by the listener's hints plus a fallback tick, so an
 * event appended through any replica reaches subscribers of every replica.
 */
export class Hub {
  private readonly feeds = new Map<string, RunFeed>();
  private readonly runsTopic = new Set<StreamClient>();
  private readonly lanesTopic = new Set<StreamClient>();
  private readonly subs = new Map<StreamClient, Map<string, FeedSubscriber>>();
  /** Encoded `event` messages by row, for as long as the row is alive (one fan-out). */
  private readonly frames = new WeakMap<RunEventRow, Buffer>();
  private lanesTimer: NodeJS.Timeout | undefined;
  private readonly fallback: NodeJS.Timeout;

  constructor(
    private readonly db: Kysely<Database>,
    listener: Listener,
    private readonly log: Logger,
  ) {
    listener.on('event', (runId: string, seq: number) => {
      const feed = this.feeds.get(runId);
      // Already delivered (an append of this process handed its rows over): nothing to read.
      if (!feed || seq <= feed.cursor) return;
      this.pull(feed);
    });
    listener.on('status', (runId: string) => {
      void this.publishRun(runId);
      this.lanesChanged();
    });
    listener.on('enqueue', () => this.lanesChanged());
    listener.on('reconnected', () => void this.pullBehind());
    // Fallback for lost notifications, and the heartbeat pulse of the lanes view.
    this.fallback = setInterval(() => {
      void this.pullBehind();
      if (this.lanesTopic.size > 0) this.lanesChanged();
    }, 2_000);
    this.fallback.unref();
  }

  /** Does anyone on this process follow the run? Then its appends hand their rows to `offer`. */
  follows(runId: string): boolean {
    return this.feeds.has(runId);
  }

  /** Rows an append of this process just committed: to the run's feed without a read when they fit. */
  offer(runId: string, events: RunEventRow[]): void {
    this.feeds.get(runId)?.offer(events);
  }

  get connections(): number {
    return this.subs.size;
  }

  attach(client: StreamClient): void {
    this.subs.set(client, new Map());
  }

  detach(client: StreamClient): void {
    const mine = this.subs.get(client);
    if (mine) for (const runId of mine.keys()) this.unsubscribeRun(client, runId);
    this.subs.delete(client);
    this.runsTopic.delete(client);
    this.lanesTopic.delete(client);
  }

  /**
   * Follow a run's events with seq > afterSeq: backlog first, then live, each exactly once, in order. With
   * `batch`, each delivery goes out as `events` messages of up to STREAM_BATCH_BYTES: a 100,000-line backlog
   * is a few hundred messages for the browser to parse, not 100,000.
   */
  async subscribeRun(client: StreamClient, runId: string, afterSeq: number, batch = false): Promise<void> {
    const mine = this.subs.get(client);
    if (!mine) return;
    this.unsubscribeRun(client, runId);
    let feed = this.feeds.get(runId);
    if (!feed) {
      const run = await getRun(this.db, runId);
      feed = this.feeds.get(runId) ?? new RunFeed(this.db, runId, run ? run.last_seq : 0);
      this.feeds.set(runId, feed);
    }
    const sub: FeedSubscriber = {
      cursor: afterSeq,
      deliver: (events: RunEventRow[]) => {
        if (!client.isOpen()) return;
        if (client.buffered() > MAX_BUFFERED) {
          this.unsubscribeRun(client, runId);
          client.send({
            type: 'error',
            error: {
              code: 'resync_required',
              message: `too slow: resubscribe from seq ${sub.cursor}`,
              run_id: runId,
            },
          });
          return;
        }
        if (batch) sendBatched(client, runId, events);
        else client.sendFrames(events.map((event) => this.frame(runId, event)));
        sub.cursor = events[events.length - 1]!.seq;
      },
    };
    mine.set(runId, sub);
    client.send({ type: 'subscribed', topic: 'run', run_id: runId });
    await feed.join(sub, () => client.isOpen() && mine.get(runId) === sub);
  }

  /**
   * The `event` message of a row, serialised and encoded once: every subscriber the feed hands the same row
   * to gets the same bytes (1,000 followers of a run cost one JSON.stringify per event, not 1,000).
   */
  private frame(runId: string, event: RunEventRow): Buffer {
    let frame = this.frames.get(event);
    if (!frame) {
      const message: ServerMessage = { type: 'event', run_id: runId, event: eventToWire(event) };
      frame = Buffer.from(JSON.stringify(message));
      this.frames.set(event, frame);
    }
    return frame;
  }

  unsubscribeRun(client: StreamClient, runId: string): void {
    const sub = this.subs.get(client)?.get(runId);
    if (!sub) return;
    this.subs.get(client)!.delete(runId);
    const feed = this.feeds.get(runId);
    feed?.subscribers.delete(sub);
    if (feed && feed.subscribers.size === 0) this.feeds.delete(runId);
  }

  subscribeTopic(client: StreamClient, topic: 'runs' | 'lanes'): void {
    (topic === 'runs' ? this.runsTopic : this.lanesTopic).add(client);
    client.send({ type: 'subscribed', topic });
    if (topic === 'lanes') void this.sendLanes([client]);
  }

  unsubscribeTopic(client: StreamClient, topic: 'runs' | 'lanes'): void {
    (topic === 'runs' ? this.runsTopic : this.lanesTopic).delete(client);
  }

  private pull(feed: RunFeed): void {
    void feed.pull().catch((err) => this.log.warn({ err }, 'feed pull failed'));
  }

  /**
   * The fallback tick and a listener reconnect: one statement reads the newest seq of every followed run,
   * and only the feeds behind it read their events. Every feed used to read every tick: 100 followed runs
   * put 100 reads into the pool at once every 2 s, and a feed with a read in flight cannot take its own
   * process's appends without reading them back, so the live rounds caught in a tick waited for two reads
   * each (the fan-out scenario's tail). If that one statement fails, every feed reads, as before.
   */
  private async pullBehind(): Promise<void> {
    const followed = [...this.feeds.keys()];
    if (followed.length === 0) return;
    let newest: Map<string, number>;
    try {
      newest = await lastSeqs(this.db, followed);
    } catch (err) {
      this.log.warn({ err }, 'newest seqs of followed runs unreadable; every feed reads');
      for (const feed of this.feeds.values()) this.pull(feed);
      return;
    }
    for (const [runId, seq] of newest) {
      const feed = this.feeds.get(runId);
      if (feed && seq > feed.cursor) this.pull(feed);
    }
  }

  private async publishRun(runId: string): Promise<void> {
    if (this.runsTopic.size === 0) return;
    try {
      const run = await getRun(this.db, runId);
      if (!run) return;
      const lanes = await laneStates(this.db, [run.lane]);
      const [masked] = await maskRunSecrets(this.db, [run]);
      const message: ServerMessage = { type: 'run', run: runToWire(masked!, lanes.get(run.lane)) };
      for (const client of this.runsTopic)
        if (client.isOpen() && (!client.scope || runAllowed(client.scope, run))) client.send(message);
    } catch (err) {
      this.log.warn({ err, runId }, 'run publish failed');
    }
  }

  /** Lane snapshots are debounced: a burst of changes sends one snapshot. */
  private lanesChanged(): void {
    if (this.lanesTopic.size === 0 || this.lanesTimer) return;
    this.lanesTimer = setTimeout(() => {
      this.lanesTimer = undefined;
      void this.sendLanes([...this.lanesTopic]);
    }, 250);
  }

  private async sendLanes(clients: StreamClient[]): Promise<void> {
    try {
      const lanes = buildLanes(await laneOverview(this.db), await laneRuns(this.db));
      for (const client of clients)
        if (client.isOpen())
          client.send({ type: 'lanes', lanes: client.scope ? lanesInScope(client.scope, lanes) : lanes });
    } catch (err) {
      this.log.warn({ err }, 'lanes publish failed');
    }
  }

  close(): void {
    clearInterval(this.fallback);
    clearTimeout(this.lanesTimer);
  }
}

/** Events as `events` messages, cut where the next event would take one past STREAM_BATCH_BYTES. */
function sendBatched(client: StreamClient, runId: string, events: RunEventRow[]): void {
  let batch: ReturnType<typeof eventToWire>[] = [];
  let bytes = 0;
  for (const event of events) {
    const wire = eventToWire(event);
    // An estimate (message and data dominate an event's size); exactness is not needed for a bound.
    const size = 200 + wire.message.length + (wire.data === null ? 0 : JSON.stringify(wire.data).length);
    if (batch.length > 0 && bytes + size > STREAM_BATCH_BYTES) {
      client.send({ type: 'events', run_id: runId, events: batch });
      batch = [];
      bytes = 0;
    }
    batch.push(wire);
    bytes += size;
  }
  if (batch.length > 0) client.send({ type: 'events', run_id: runId, events: batch });
}
