// The timeline of a fast run, as every reader sees it, pinned to a golden file: the run page (GET /v1/runs/:id
// with its steps), the events (GET /v1/runs/:id/events), the WebSocket feed (live from seq 0, and the
// backlog after the fact) and the last `runs` topic message. The hot write path (claim, appends, batched and
// single completion, requeue) is a storage detail: any change to it must leave all of this byte-identical.
// Written against the code before the write path was reworked (issue 19); regenerate only on purpose:
// OCR_UPDATE_GOLDEN=1 npm test -- services/api/test/fast-run-timeline.integration.test.ts
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import WebSocket from 'ws';
import { Stream, type StreamEvent, type WebSocketLike } from '@ocr/client';
import { startStack, type Stack } from '@ocr/testkit';

const GOLDEN = new URL('./fixtures/fast-run-timeline.json', import.meta.url);
const ws = (url: string) => new WebSocket(url) as unknown as WebSocketLike;
const TS = '2020-01-01T00:00:00.000Z';

/** What a no-op step's worker sends: run.started, step.started, step.finished (fixed times). */
function stepEvents(from: number, status: 'success' | 'error', extra: number = 0) {
  const logs = Array.from({ length: extra }, (_, i) => ({
    seq: from + 2 + i,
    ts: TS,
    level: 'info' as const,
    type: 'log',
    step: 'noop',
    message: `line ${i + 1}`,
    data: { stream: 'stdout' },
  }));
  return [
    {
      seq: from,
      ts: TS,
      level: 'info' as const,
      type: 'run.started',
      message: 'attempt started on A',
      data: {},
    },
    {
      seq: from + 1,
      ts: TS,
      level: 'info' as const,
      type: 'step.started',
      step: 'noop',
      message: 'noop step noop started',
      data: { index: 0, kind: 'noop' },
    },
    ...logs,
    {
      seq: from + 2 + extra,
      ts: TS,
      level: status === 'success' ? ('info' as const) : ('error' as const),
      type: 'step.finished',
      step: 'noop',
      message: `noop step noop ${status}`,
      data: { index: 0, kind: 'noop', status, exit_code: status === 'success' ? 0 : 1, duration_ms: 1 },
    },
  ];
}

/**
 * Volatile values out: uuids become `<uuid:n>` in order of first appearance, database timestamps `<ts>`
 * (the fixed times the test sends stay), so two runs of the same script compare equal.
 */
function normalise(value: unknown): unknown {
  const ids = new Map<string, string>();
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'string') return v;
    let s = v.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => {
      if (!ids.has(id)) ids.set(id, `<uuid:${ids.size}>`);
      return ids.get(id)!;
    });
    s = s.replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:\d{2})?)?/g, (ts) =>
      ts === TS ? ts : '<ts>',
    );
    return s;
  });
  return JSON.parse(text);
}

async function runPage(stack: Stack, runId: string) {
  const detail = await stack.client.runs.get(runId);
  const events = await stack.client.runs.events(runId, { limit: 1000 });
  return { detail, events };
}

/** Every event of `runId` a subscriber from seq 0 receives, until the run's last seq. */
function feed(stream: Stream, runId: string, until: (got: StreamEvent[]) => boolean): Promise<StreamEvent[]> {
  const got: StreamEvent[] = [];
  return new Promise((resolve) => {
    const stop = stream.subscribeRun(runId, 0, (event) => {
      got.push(event);
      if (until(got)) {
        stop();
        resolve(got);
      }
    });
  });
}

const terminal = (got: StreamEvent[]) => got.some((e) => e.type === 'status');

t.test('a fast run reads the same on the run page, the events and the WebSocket feed', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create({
    name: 'fast',
    default_lane: 'A',
    retry: { max_attempts: 2, backoff: { initial_s: 0, factor: 1, max_s: 0 } },
    steps: [{ name: 'noop', kind: 'noop' }],
  });
  const { client: worker } = await stack.tokenFor('worker');
  const stream = new Stream({ baseUrl: stack.apiUrl, token: stack.adminToken, webSocket: ws });
  t.teardown(() => stream.close());
  const lastRun = new Map<string, unknown>();
  stream.subscribe('runs', (payload) => {
    const run = payload as { id: string };
    lastRun.set(run.id, run);
  });

  const { runs: created } = await stack.client.runs.createBatch(
    Array.from({ length: 4 }, (_, i) => ({ template: 'fast', priority: 10 - i, labels: { n: String(i) } })),
  );
  const ids = created.map((r) => r.id);
  // Live subscribers from seq 0, before anything happens to the runs.
  // (A requeue is a `requeued` event, not a `status` one: every feed ends at its run's final status.)
  const live = ids.map((id) => feed(stream, id, terminal));

  const first = await worker.worker.claim({ worker_id: 'w-eq', boot_id: 'boot-eq', lanes: ['A'], limit: 4 });
  t.same(
    first.runs.map((r) => r.run.id),
    ids,
    'claimed in priority order',
  );
  const lease = new Map(first.runs.map((r) => [r.run.id, r.lease_token]));
  const [a, b, c, d] = ids as [string, string, string, string];

  // c: some output appended on its own first, the rest with the completion (the worker's usual shape).
  const cEvents = stepEvents(1, 'success', 3);
  await worker.worker.appendEvents(c, lease.get(c)!, cEvents.slice(0, 3));

  // a: success, b: error with an attempt left (requeued), c: success; one batched completion, as a busy worker sends.
  const batch = await worker.worker.completeMany([
    { run_id: a, lease_token: lease.get(a)!, status: 'success', events: stepEvents(1, 'success') },
    {
      run_id: b,
      lease_token: lease.get(b)!,
      status: 'error',
      error: { code: 'step_failed', message: 'exit 1', details: { step: 'noop', exit_code: 1 } },
      events: stepEvents(1, 'error'),
    },
    {
      run_id: c,
      lease_token: lease.get(c)!,
      status: 'success',
      output: { noop: { ok: true } },
      events: cEvents.slice(3),
    },
  ]);
  t.same(
    batch.results.map((r) => r.ok && r.status),
    ['success', 'queued', 'success'],
  );
  // The run page of a requeued run (status, wait_reason, steps so far).
  const requeued = await stack.client.runs.get(b);
  // d: the single-run completion route, events attached.
  await worker.worker.complete(d, lease.get(d)!, { status: 'success', events: stepEvents(1, 'success') });

  // b again: the second attempt fails for good.
  const second = await worker.worker.claim({ worker_id: 'w-eq', boot_id: 'boot-eq', lanes: ['A'], limit: 1 });
  t.equal(second.runs[0]?.run.id, b, 'the requeued run comes back');
  await worker.worker.completeMany([
    {
      run_id: b,
      lease_token: second.runs[0]!.lease_token,
      status: 'error',
      error: { code: 'step_failed', message: 'exit 1', details: { step: 'noop', exit_code: 1 } },
      events: stepEvents(1, 'error'),
    },
  ]);

  const liveFeeds = await Promise.all(live);
  // The backlog, read after the fact by a new subscriber.
  const backlog = await Promise.all(
    ids.map((id) => feed(stream, id, (got) => got.length >= liveFeeds[ids.indexOf(id)]!.length)),
  );
  // The runs topic's last word on every run is its final state (status hints may coalesce on the way).
  const deadline = Date.now() + 10_000;
  while (
    ids.some(
      (id) => !['success', 'error'].includes((lastRun.get(id) as { status?: string })?.status ?? ''),
    ) &&
    Date.now() < deadline
  )
    await new Promise((r) => setTimeout(r, 20));

  const observed = normalise({
    requeued,
    runs: await Promise.all(
      ids.map(async (id, i) => ({
        page: await runPage(stack, id),
        live: liveFeeds[i],
        backlog: backlog[i],
        topic: lastRun.get(id),
      })),
    ),
  });
  for (const [i, run] of (observed as { runs: { live: unknown; backlog: unknown }[] }).runs.entries())
    t.same(run.backlog, run.live, `run ${i}: backlog and live feed agree`);

  if (process.env.OCR_UPDATE_GOLDEN === '1') {
    await writeFile(GOLDEN, JSON.stringify(observed, null, 2) + '\n');
    t.pass('golden file written');
    return;
  }
  const golden = JSON.parse(await readFile(GOLDEN, 'utf8'));
  t.same(observed, golden, 'run page, events, feeds and status identical to the golden timeline');
});
