import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { Stream, type StreamEvent, type WebSocketLike } from '@ocr/client';
import { claimRuns, appendEvents, readEvents } from '@ocr/db';
import { eventually, startStack, type Stack } from '@ocr/testkit';
import { STREAM_BATCH_BYTES } from '@ocr/contracts';
import { seededRandom } from '@ocr/testkit/random';
import { withEchoTemplate } from './helpers.js';

const ws = (url: string) => new WebSocket(url) as unknown as WebSocketLike;

async function runningRun(stack: Stack) {
  await withEchoTemplate(stack);
  const { run } = await stack.client.runs.create({ template: 'echo', params: { message: 'x' } });
  const [claimed] = await claimRuns(stack.db.db, { workerId: 'w', lanes: ['A'], limit: 1, leaseSeconds: 60 });
  return { runId: run.id, lease: { runId: run.id, leaseToken: claimed!.lease_token! } };
}

/** Append `n` log lines in batches of `batch` (worker seqs from `from`). */
async function appendLines(
  stack: Stack,
  lease: { runId: string; leaseToken: string },
  from: number,
  n: number,
  batch = 50,
) {
  for (let i = 0; i < n; i += batch) {
    const events = Array.from({ length: Math.min(batch, n - i) }, (_, j) => ({
      seq: from + i + j,
      level: 'info' as const,
      type: 'log',
      message: `line ${from + i + j}`,
    }));
    const result = await appendEvents(stack.db.db, lease, events);
    if (!result.ok) throw new Error('append failed');
  }
}

function collect(
  stream: Stream,
  runId: string,
  afterSeq: number,
  until: (events: StreamEvent[]) => boolean,
): Promise<StreamEvent[]> {
  const got: StreamEvent[] = [];
  return new Promise((resolve) => {
    stream.subscribeRun(runId, afterSeq, (event) => {
      got.push(event);
      if (until(got)) resolve(got);
    });
  });
}

const logLines = (events: StreamEvent[]) => events.filter((e) => e.type === 'log').map((e) => e.message);
const expected = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`);

t.test(
  'a subscriber from seq 0 gets backlog then live, gap-free and once each, while appends continue',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    const { runId, lease } = await runningRun(stack);
    await appendLines(stack, lease, 1, 300);
    const stream = new Stream({ baseUrl: stack.apiUrl, token: stack.adminToken, webSocket: ws });
    t.teardown(() => stream.close());
    const done = collect(stream, runId, 0, (got) => logLines(got).length >= 1000);
    const appending = appendLines(stack, lease, 301, 700, 7);
    const got = await done;
    await appending;
    t.same(logLines(got), expected(1, 1000), 'every line, in order, exactly once');
    t.ok(
      got.every((e, i) => i === 0 || e.seq > got[i - 1]!.seq),
      'seq strictly increasing',
    );
  },
);

t.test(
  'followers on the appending API get its appends as stored, once each and in seq order, while appends race',
  async (t) => {
    // The API hands a live feed the rows its own append stored (no read-back); two appends in flight at
    // once commit in either order, so the feed sometimes gets rows that do not follow its cursor and must
    // read instead. Either way each follower sees exactly what the database holds, in seq order.
    const stack = await startStack(t, { s3: false });
    const { runId, lease } = await runningRun(stack);
    const { token } = await stack.tokenFor('worker');
    const append = async (from: number) => {
      const events = Array.from({ length: 10 }, (_, j) => ({
        seq: from + j,
        level: 'info',
        type: 'log',
        message: `line ${from + j}`,
      }));
      const res = await fetch(`${stack.apiUrl}/v1/runs/${runId}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ lease_token: lease.leaseToken, events }),
      });
      t.equal(res.status, 200);
    };
    const stream = new Stream({ baseUrl: stack.apiUrl, token: stack.adminToken, webSocket: ws });
    t.teardown(() => stream.close());
    const late = new Stream({ baseUrl: stack.apiUrl, token: stack.adminToken, webSocket: ws });
    t.teardown(() => late.close());
    const first = collect(stream, runId, 0, (got) => logLines(got).length >= 600);
    let second: Promise<StreamEvent[]> | undefined;
    for (let from = 1; from <= 600; from += 20) {
      await Promise.all([append(from), append(from + 10)]);
      // A second follower (its own connection) joins mid-stream, from where it chooses, while appends go on.
      if (from === 201) second = collect(late, runId, 150, (got) => got.at(-1)!.seq >= 601);
    }
    const stored = await readEvents(stack.db.db, { runId, limit: 10_000 });
    const got = await first;
    t.same(
      got.map((e) => [e.seq, e.message]),
      stored.map((e) => [e.seq, e.message]),
      'the first follower: every stored event, in seq order, once',
    );
    t.same(
      (await second!).map((e) => [e.seq, e.message]),
      stored.filter((e) => e.seq > 150).map((e) => [e.seq, e.message]),
      'the follower that joined mid-stream: everything after its seq, once',
    );
  },
);

t.test('resume after a dropped connection: no gap, no duplicate', async (t) => {
  const stack = await startStack(t, { s3: false });
  const { runId, lease } = await runningRun(stack);
  const stream = new Stream({ baseUrl: stack.apiUrl, token: stack.adminToken, webSocket: ws });
  t.teardown(() => stream.close());
  const got: StreamEvent[] = [];
  let dropped = false;
  const done = new Promise<void>((resolve) =>
    stream.subscribeRun(runId, 0, (event) => {
      got.push(event);
      if (!dropped && logLines(got).length === 100) {
        dropped = true;
        stream.drop();
      }
      if (logLines(got).length >= 400) resolve();
    }),
  );
  await appendLines(stack, lease, 1, 400, 20);
  await done;
  t.same(logLines(got), expected(1, 400));
});

t.test(
  'auth: header or first message; viewer role needed; garbage messages answered, not fatal',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    const url = stack.apiUrl.replace('http', 'ws') + '/v1/stream';
    const next = (socket: WebSocket) => once(socket, 'message').then(([data]) => JSON.parse(String(data)));
    const a = new WebSocket(url, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    t.match(await next(a), { type: 'ready', role: 'admin' });
    a.send('not json');
    t.match(await next(a), { type: 'error', error: { code: 'validation_failed' } });
    a.send(JSON.stringify({ type: 'subscribe', topic: 'bogus' }));
    t.match(await next(a), { type: 'error', error: { code: 'validation_failed' } });
    a.close();
    const b = new WebSocket(url);
    await once(b, 'open');
    b.send(JSON.stringify({ type: 'subscribe', topic: 'runs' }));
    t.match(await next(b), { type: 'error', error: { code: 'unauthorized' } });
    b.send(JSON.stringify({ type: 'auth', token: 'ocr_wrong' }));
    t.match(await next(b), { type: 'error', error: { code: 'unauthorized' } });
    const [code] = await once(b, 'close');
    t.equal(code, 4401);
    const { token } = await stack.tokenFor('worker');
    const c = new WebSocket(url);
    await once(c, 'open');
    c.send(JSON.stringify({ type: 'auth', token }));
    t.match(await next(c), { type: 'error', error: { code: 'forbidden' } });
  },
);

t.test(
  'two API processes: events appended through one reach a subscriber of the other; killing the listener loses nothing',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    const { runId, lease } = await runningRun(stack);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', new URL('./fixtures/api-process.ts', import.meta.url).pathname],
      {
        env: { ...process.env, ...stack.env },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    t.teardown(() => child.kill('SIGKILL'));
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const other = JSON.parse(line) as { url: string; listenerPid: number };
    const stream = new Stream({ baseUrl: other.url, token: stack.adminToken, webSocket: ws });
    t.teardown(() => stream.close());
    const got: StreamEvent[] = [];
    const done = new Promise<void>((resolve) =>
      stream.subscribeRun(runId, 0, (event) => {
        got.push(event);
        if (logLines(got).length >= 600) resolve();
      }),
    );
    // Appends go through the first API (HTTP, worker protocol) while the second API's listener is killed.
    const { token } = await stack.tokenFor('worker');
    for (let i = 1; i <= 600; i += 20) {
      const events = Array.from({ length: 20 }, (_, j) => ({
        seq: i + j,
        level: 'info',
        type: 'log',
        message: `line ${i + j}`,
      }));
      const res = await fetch(`${stack.apiUrl}/v1/runs/${runId}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ lease_token: lease.leaseToken, events }),
      });
      t.equal(res.status, 200);
      if (i === 201) {
        const { rowCount } = await stack.db.pool.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ocr-api-listener' AND pid = $1`,
          [other.listenerPid],
        );
        t.equal(rowCount, 1, "the second API's listener connection was killed");
      }
    }
    await done;
    t.same(logLines(got), expected(1, 600), 'gap-free across the listener kill');
  },
);

t.test(
  'batch: true sends events messages, in order and gap-free, cut at STREAM_BATCH_BYTES; without it one event per message',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    const { runId, lease } = await runningRun(stack);
    // 2,000 lines of ~1 kB: about 2 MB of backlog, so it cannot fit one batch.
    const pad = 'x'.repeat(1000);
    for (let i = 1; i <= 2000; i += 500) {
      const events = Array.from({ length: 500 }, (_, j) => ({
        seq: i + j,
        level: 'info' as const,
        type: 'log',
        message: `line ${i + j} ${pad}`,
      }));
      if (!(await appendEvents(stack.db.db, lease, events)).ok) throw new Error('append failed');
    }
    const { last_seq } = await stack.client.runs.events(runId, { limit: 1 });
    const url = stack.apiUrl.replace('http', 'ws') + '/v1/stream';

    const follow = async (batch: boolean) => {
      const socket = new WebSocket(url, { headers: { authorization: `Bearer ${stack.adminToken}` } });
      t.teardown(() => socket.close());
      const frames: { type: string; bytes: number; seqs: number[] }[] = [];
      let seen = 0;
      const done = new Promise<void>((resolve) =>
        socket.on('message', (data) => {
          const text = String(data);
          const msg = JSON.parse(text) as {
            type: string;
            event?: { seq: number };
            events?: { seq: number }[];
          };
          if (msg.type === 'ready') {
            socket.send(JSON.stringify({ type: 'subscribe', topic: 'run', run_id: runId, batch }));
            return;
          }
          if (msg.type !== 'event' && msg.type !== 'events') return;
          const seqs = msg.event ? [msg.event.seq] : msg.events!.map((e) => e.seq);
          frames.push({ type: msg.type, bytes: text.length, seqs });
          seen = seqs[seqs.length - 1]!;
          if (seen >= last_seq) resolve();
        }),
      );
      await done;
      return frames;
    };

    const batched = await follow(true);
    const seqs = batched.flatMap((f) => f.seqs);
    t.same(
      seqs,
      Array.from({ length: last_seq }, (_, i) => i + 1),
      'every seq once, in order',
    );
    t.ok(
      batched.every((f) => f.type === 'events'),
      `only events messages (${batched.length} for ${seqs.length} events)`,
    );
    t.ok(batched.length >= 8 && batched.length < 100, 'the backlog is cut into a few batches');
    const biggest = Math.max(...batched.map((f) => f.bytes));
    t.ok(biggest <= STREAM_BATCH_BYTES + 4096, `no batch over the bound (${biggest} bytes)`);

    const single = await follow(false);
    t.ok(
      single.every((f) => f.type === 'event' && f.seqs.length === 1),
      'unbatched: one event per message',
    );
    t.equal(single.length, last_seq);
  },
);

t.test(
  'events stored without any hint reach followers by the fallback tick, on every followed run that is behind',
  async (t) => {
    // The tick asks once which followed runs have events past their feed, then only those feeds read: appends
    // with no NOTIFY and no API process to hand rows over (as a replica that died between its commit and its
    // hint) must still arrive, in order and once each, on each run, while followed runs with nothing new read
    // nothing and break nothing.
    const stack = await startStack(t, { s3: false });
    await withEchoTemplate(stack);
    const runs = [];
    for (let i = 0; i < 3; i++) {
      const { run } = await stack.client.runs.create({ template: 'echo', params: { message: 'x' } });
      const [claimed] = await claimRuns(stack.db.db, {
        workerId: 'w',
        lanes: ['A'],
        limit: 1,
        leaseSeconds: 60,
      });
      runs.push({ runId: run.id, lease: { runId: run.id, leaseToken: claimed!.lease_token! } });
    }
    const stream = new Stream({ baseUrl: stack.apiUrl, token: stack.adminToken, webSocket: ws });
    t.teardown(() => stream.close());
    const quiet = new Stream({ baseUrl: stack.apiUrl, token: stack.adminToken, webSocket: ws });
    t.teardown(() => quiet.close());
    const idle: StreamEvent[] = [];
    quiet.subscribeRun(runs[2]!.runId, 0, (event) => idle.push(event));
    const followed = runs
      .slice(0, 2)
      .map(({ runId }) => collect(stream, runId, 0, (got) => logLines(got).length >= 30));
    for (let from = 1; from <= 30; from += 10)
      for (const { lease } of runs.slice(0, 2)) {
        const events = Array.from({ length: 10 }, (_, j) => ({
          seq: from + j,
          level: 'info' as const,
          type: 'log',
          message: `line ${from + j}`,
        }));
        const result = await appendEvents(stack.db.db, lease, events, { notify: false });
        if (!result.ok) throw new Error('append failed');
      }
    for (const [i, got] of (await Promise.all(followed)).entries()) {
      const stored = await readEvents(stack.db.db, { runId: runs[i]!.runId, limit: 1000 });
      t.same(
        got.map((e) => [e.seq, e.message]),
        stored.map((e) => [e.seq, e.message]),
        `run ${i}: every stored event, in seq order, once, with no hint sent`,
      );
    }
    t.same(logLines(idle), [], 'the run with nothing new got nothing');
  },
);

t.test(
  'small appends of many runs at once (shared statements) reach followers on this API and on another, once each, in order',
  async (t) => {
    // The fan-out's shape: every followed run gets a small append at the same moment, so the appending API
    // stores them in shared statements (append-coalescer.ts) and hands each run's rows to its own feed; the
    // other API process learns of them only by the coalesced hints. Generated sizes, several rounds.
    const stack = await startStack(t, { s3: false });
    await withEchoTemplate(stack);
    const n = 12;
    await stack.client.runs.createBatch(
      Array.from({ length: n }, () => ({ template: 'echo', params: { message: 'x' } })),
    );
    const claimed = await claimRuns(stack.db.db, { workerId: 'w', lanes: ['A'], limit: n, leaseSeconds: 60 });
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', new URL('./fixtures/api-process.ts', import.meta.url).pathname],
      { env: { ...process.env, ...stack.env }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.teardown(() => child.kill('SIGKILL'));
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const other = JSON.parse(line) as { url: string };
    const rand = seededRandom(1912);
    const rounds = 8;
    const counts = claimed.map(() => Array.from({ length: rounds }, () => 1 + Math.floor(rand() * 3)));
    // Every follower of every run on both APIs, from seq 0.
    const got = [stack.apiUrl, other.url].map((baseUrl) => {
      const stream = new Stream({ baseUrl, token: stack.adminToken, webSocket: ws });
      t.teardown(() => stream.close());
      return claimed.map((run) => {
        const events: StreamEvent[] = [];
        stream.subscribeRun(run.id, 0, (event) => events.push(event));
        return events;
      });
    });
    const { token } = await stack.tokenFor('worker');
    const next = claimed.map(() => 1);
    const received = (upTo: number[]) =>
      got.every((runs) => runs.every((events, i) => logLines(events).length >= upTo[i]! - 1));
    for (let round = 0; round < rounds; round++) {
      const statuses = await Promise.all(
        claimed.map(async (run, i) => {
          const events = Array.from({ length: counts[i]![round]! }, (_, j) => ({
            seq: next[i]! + j,
            level: 'info',
            type: 'log',
            message: `line ${next[i]! + j}`,
          }));
          next[i]! += events.length;
          const res = await fetch(`${stack.apiUrl}/v1/runs/${run.id}/events`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ lease_token: run.lease_token, events }),
          });
          return res.status;
        }),
      );
      t.ok(
        statuses.every((s) => s === 200),
        `round ${round}: every append answered 200`,
      );
      // After the first round every follower is surely subscribed (it got those lines, by backlog or live):
      // the later rounds go the live way, as the fan-out's do.
      if (round === 0) await eventually(async () => received(next));
    }
    await eventually(async () => received(next));
    for (const [f, runs] of got.entries())
      for (const [i, events] of runs.entries()) {
        const stored = await readEvents(stack.db.db, { runId: claimed[i]!.id, limit: 1000 });
        t.same(
          events.map((e) => [e.seq, e.message]),
          stored.map((e) => [e.seq, e.message]),
          `${f === 0 ? 'appending' : 'other'} API, run ${i}: every stored event, in seq order, once`,
        );
      }
  },
);
