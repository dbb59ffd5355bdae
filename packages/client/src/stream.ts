/** The minimal WebSocket surface used here: the browser's WebSocket and the `ws` package both fit. */
export interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

export interface StreamEvent {
  seq: number;
  ts: string;
  attempt: number;
  level: string;
  type: string;
  step: string | null;
  message: string;
  data: unknown;
}

export type StreamStatus = 'connecting' | 'open' | 'closed';

export interface StreamOptions {
  /** API base URL (http/https); the stream is at `/v1/stream`. */
  baseUrl: string;
  token: string;
  /** Defaults to the global WebSocket (browsers, Node 22+), else the `ws` package (Node 20). */
  webSocket?: WebSocketFactory;
  onStatus?: (status: StreamStatus) => void;
  /** An `error` message from the server (`unauthorized`, `forbidden`, `validation_failed`, …). */
  onError?: (error: { code: string; message: string; run_id?: string }) => void;
  maxBackoffMs?: number;
}

type WebSocketClass = new (url: string) => WebSocketLike;
let wsPackage: WebSocketClass | undefined;

/** The platform's WebSocket, or the `ws` package once loaded; undefined until one is available. */
function defaultWebSocket(): WebSocketFactory | undefined {
  const Global = (globalThis as { WebSocket?: WebSocketClass }).WebSocket ?? wsPackage;
  return Global ? (url) => new Global(url) : undefined;
}

async function loadWs(): Promise<void> {
  const mod = (await import('ws')) as unknown as { default: WebSocketClass };
  wsPackage = mod.default;
}

interface RunSub {
  lastSeq: number;
  onEvent: (event: StreamEvent) => void;
}

/**
 * A self-healing subscription to `/v1/stream`. Run subscriptions remember the last seq delivered, so after
 * a dropped connection (or a `resync_required` from a slow read) they resume from it: no gap, no duplicate.
 * Reconnects with exponential backoff and jitter.
 */
export class Stream {
  private socket: WebSocketLike | undefined;
  private readonly runs = new Map<string, RunSub>();
  private readonly topics = new Map<'runs' | 'lanes', (payload: unknown) => void>();
  private attempt = 0;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  status: StreamStatus = 'connecting';

  constructor(private readonly options: StreamOptions) {
    this.connect();
  }

  /** Follow a run's events after `afterSeq`; returns an unsubscribe function. */
  subscribeRun(runId: string, afterSeq: number, onEvent: (event: StreamEvent) => void): () => void {
    this.runs.set(runId, { lastSeq: afterSeq, onEvent });
    this.send({ type: 'subscribe', topic: 'run', run_id: runId, after_seq: afterSeq, batch: true });
    return () => {
      this.runs.delete(runId);
      this.send({ type: 'unsubscribe', topic: 'run', run_id: runId });
    };
  }

  /** Run status changes (`runs`) or lane snapshots (`lanes`). */
  subscribe(topic: 'runs' | 'lanes', handler: (payload: unknown) => void): () => void {
    this.topics.set(topic, handler);
    this.send({ type: 'subscribe', topic });
    return () => {
      this.topics.delete(topic);
      this.send({ type: 'unsubscribe', topic });
    };
  }

  /** Drop the connection as a network failure would (tests); it reconnects by itself. */
  drop(): void {
    this.socket?.close(4000, 'dropped');
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, 'bye');
    this.setStatus('closed');
  }

  private setStatus(status: StreamStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.options.onStatus?.(status);
  }

  private send(message: unknown): void {
    if (this.socket?.readyState === 1 && this.status === 'open') this.socket.send(JSON.stringify(message));
  }

  private connect(): void {
    if (this.closed) return;
    this.setStatus('connecting');
    const url = this.options.baseUrl.replace(/^http/, 'ws').replace(/\/$/, '') + '/v1/stream';
    const factory = this.options.webSocket ?? defaultWebSocket();
    if (!factory) {
      // Node 20 has no global WebSocket: load `ws` once, then connect.
      void loadWs().then(
        () => this.connect(),
        () => this.options.onError?.({ code: 'no_websocket', message: 'no WebSocket: install ws' }),
      );
      return;
    }
    const socket = factory(url);
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', token: this.options.token }));
    socket.onmessage = (ev) => this.receive(String(ev.data));
    socket.onerror = () => undefined;
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (this.closed) return;
      this.setStatus('connecting');
      const delay =
        Math.min(this.options.maxBackoffMs ?? 10_000, 250 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  private receive(text: string): void {
    let message: { type: string; [key: string]: unknown };
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    switch (message.type) {
      case 'ready':
        this.attempt = 0;
        this.setStatus('open');
        for (const [runId, sub] of this.runs)
          this.send({ type: 'subscribe', topic: 'run', run_id: runId, after_seq: sub.lastSeq, batch: true });
        for (const topic of this.topics.keys()) this.send({ type: 'subscribe', topic });
        break;
      case 'event':
      case 'events': {
        // Runs are subscribed with `batch: true` (many events per message); `event` is the unbatched form.
        const sub = this.runs.get(message.run_id as string);
        if (!sub) return;
        const events = (message.type === 'event' ? [message.event] : message.events) as StreamEvent[];
        for (const event of events) {
          if (event.seq <= sub.lastSeq) continue;
          sub.lastSeq = event.seq;
          sub.onEvent(event);
        }
        break;
      }
      case 'run':
        this.topics.get('runs')?.(message.run);
        break;
      case 'lanes':
        this.topics.get('lanes')?.(message.lanes);
        break;
      case 'error': {
        const error = message.error as { code: string; message: string; run_id?: string };
        this.options.onError?.(error);
        if (error.code === 'resync_required' && error.run_id) {
          const sub = this.runs.get(error.run_id);
          if (sub)
            this.send({
              type: 'subscribe',
              topic: 'run',
              run_id: error.run_id,
              after_seq: sub.lastSeq,
              batch: true,
            });
        }
        break;
      }
    }
  }
}
