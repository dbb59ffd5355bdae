import { ApiError, type ClientOptions } from './http.js';
import { Stream, type WebSocketFactory } from './stream.js';
import { TERMINAL_STATUSES, type RunDetail, type RunEvent } from './types.js';

export interface FollowOptions {
  /** Start after this seq (0: from the first event). Pass the last seq you saw to resume. */
  afterSeq?: number;
  /** Stops following: the loop throws the signal's reason. */
  signal?: AbortSignal;
  /** The WebSocket to use (defaults to the global one, else the `ws` package). */
  webSocket?: WebSocketFactory;
}

interface FollowClient {
  runs: {
    get(id: string): Promise<RunDetail>;
    events(id: string, query: { after_seq?: number; limit?: number }): Promise<{ events: RunEvent[] }>;
  };
}

/** How long a quiet follow waits before it asks the run's status again (a safety net; events wake it). */
const IDLE_CHECK_MS = 5_000;

/**
 * Backlog and live events of one run over /v1/stream (the Stream reconnects and resubscribes from the
 * last seq by itself), ending after the run's last event. Every status change writes an event in the same
 * transaction, so after any event that is not a line of output the run's status is read: once it is
 * terminal no event can follow, and the rest is read over HTTP to the end. A quiet run is checked every
 * few seconds too, so following a finished run from past its last event ends at once.
 */
export async function* follow(
  client: FollowClient,
  options: ClientOptions,
  runId: string,
  opts: FollowOptions = {},
): AsyncGenerator<RunEvent, void, undefined> {
  const { signal } = opts;
  signal?.throwIfAborted();
  let lastSeq = opts.afterSeq ?? 0;
  const queue: RunEvent[] = [];
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const stream = new Stream({
    baseUrl: options.baseUrl,
    token: options.token ?? '',
    webSocket: opts.webSocket ?? options.webSocket,
    onError: (error) => {
      // A token that is refused will never be accepted on a reconnect: stop instead of waiting forever.
      if (error.code === 'unauthorized' || error.code === 'forbidden') {
        failure = new ApiError(error.code === 'unauthorized' ? 401 : 403, error.code, error.message);
        notify();
      }
    },
  });
  signal?.addEventListener('abort', notify);
  try {
    stream.subscribeRun(runId, lastSeq, (event) => {
      queue.push(event as RunEvent);
      notify();
    });
    let check = true;
    for (;;) {
      signal?.throwIfAborted();
      if (failure) throw failure;
      const event = queue.shift();
      if (event) {
        if (event.seq <= lastSeq) continue;
        lastSeq = event.seq;
        yield event;
        if (event.type !== 'log') check = true;
        continue;
      }
      if (check) {
        check = false;
        const { run } = await client.runs.get(runId);
        if (TERMINAL_STATUSES.includes(run.status)) break;
        continue;
      }
      const idle = setTimeout(() => {
        check = true;
        notify();
      }, IDLE_CHECK_MS);
      await new Promise<void>((resolve) => (wake = resolve));
      clearTimeout(idle);
    }
    stream.close();
    // Finished: nothing more can be appended. Whatever the socket has not delivered yet is read over HTTP.
    for (;;) {
      const { events } = await client.runs.events(runId, { after_seq: lastSeq, limit: 1000 });
      for (const event of events) {
        signal?.throwIfAborted();
        lastSeq = event.seq;
        yield event;
      }
      if (events.length < 1000) return;
    }
  } finally {
    signal?.removeEventListener('abort', notify);
    stream.close();
  }
}
