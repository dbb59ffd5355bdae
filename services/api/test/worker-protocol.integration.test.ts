import t from 'tap';
import { createHash } from 'node:crypto';
import { ApiError } from '@ocr/client';
import { createListenClient, ENQUEUE_CHANNEL, EVENTS_CHANNEL, STATUS_CHANNEL } from '@ocr/db';
import { startStack } from '@ocr/testkit';
import { withEchoTemplate } from './helpers.js';

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

t.test('long-poll: parks for wait_ms when idle, wakes on enqueue', async (t) => {
  const stack = await startStack(t, { s3: false });
  await withEchoTemplate(stack);
  const { client: worker } = await stack.tokenFor('worker');
  const idleStart = Date.now();
  const idle = await worker.worker.claim({ worker_id: 'w', lanes: ['A'], wait_ms: 700 });
  const idleMs = Date.now() - idleStart;
  t.same(idle.runs, []);
  t.ok(idleMs >= 650, `an idle claim parks (${idleMs} ms)`);
  const parked = worker.worker.claim({ worker_id: 'w', lanes: ['A'], wait_ms: 20_000 });
  await new Promise((r) => setTimeout(r, 100));
  const created = Date.now();
  const { run } = await stack.client.runs.create({ template: 'echo', params: { message: 'wake' } });
  const woke = await parked;
  t.equal(woke.runs[0]?.run.id, run.id);
  t.ok(Date.now() - created < 1000, 'woken by the enqueue, not by the fallback poll');
  t.match(woke.runs[0], { lease_token: /^[0-9a-f-]{36}$/, steps: [{ name: 'say', kind: 'shell' }] });
});

t.test('regression: a claim whose client went away hands its leases back (claim_abandoned)', async (t) => {
  const stack = await startStack(t, { s3: false });
  await withEchoTemplate(stack);
  const { client: worker } = await stack.tokenFor('worker');
  const abort = new AbortController();
  const parked = worker.worker
    .claim({ worker_id: 'gone', lanes: ['A'], wait_ms: 20_000 }, abort.signal)
    .catch((e) => e);
  await new Promise((r) => setTimeout(r, 100));
  abort.abort();
  await parked;
  const { run } = await stack.client.runs.create({ template: 'echo', params: { message: 'x' } });
  await new Promise((r) => setTimeout(r, 300));
  const { run: after } = await stack.client.runs.get(run.id);
  t.equal(after.status, 'queued', 'not stranded under a lease nobody holds');
});

t.test('fencing over HTTP, batch forms, release, worker restart', async (t) => {
  const stack = await startStack(t, { s3: false });
  await withEchoTemplate(stack);
  const { client: w } = await stack.tokenFor('worker');
  await stack.client.runs.createBatch(
    Array.from({ length: 3 }, () => ({ template: 'echo', params: { message: 'x' } })),
  );
  const { runs } = await w.worker.claim({ worker_id: 'w1', boot_id: 'boot-1', lanes: ['A'], limit: 3 });
  t.equal(runs.length, 3);
  const [a, b, c] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
  const beats = await w.worker.heartbeatMany([
    { run_id: a.run.id, lease_token: a.lease_token },
    { run_id: b.run.id, lease_token: '00000000-0000-4000-8000-000000000000' },
  ]);
  t.match(beats.results, [
    { ok: true, cancel_requested: false },
    { ok: false, error: { code: 'lease_lost' } },
  ]);
  const err = await w.worker.heartbeat(b.run.id, '00000000-0000-4000-8000-000000000000').catch((e) => e);
  t.ok(err instanceof ApiError && err.status === 409 && err.code === 'lease_lost', '409 lease_lost');
  const appended = await w.worker.appendEvents(a.run.id, a.lease_token, [
    { seq: 1, level: 'info', type: 'log', message: 'nul \u0000 ok' },
  ]);
  t.same(appended, { accepted: 1, last_seq: 1 }, 'events sanitise instead of refusing');
  const done = await w.worker.completeMany([
    { run_id: a.run.id, lease_token: a.lease_token, status: 'success', output: { ok: 1 } },
  ]);
  t.match(done.results, [{ ok: true, status: 'success' }]);
  await t.rejects(
    w.worker.complete(a.run.id, a.lease_token, { status: 'success' }),
    { code: 'lease_lost' },
    'no second completion',
  );
  const released = await w.worker.release(b.run.id, b.lease_token, 'worker_shutdown');
  t.equal(released.run.status, 'queued');
  // Same worker id, new boot: the previous boot's lease on c is requeued at once.
  await w.worker.claim({ worker_id: 'w1', boot_id: 'boot-2', lanes: ['B'], limit: 1 });
  const { run: orphan } = await stack.client.runs.get(c.run.id);
  t.equal(orphan.status, 'queued', 'orphaned by the restart: requeued');
  const { events } = await stack.client.runs.events(c.run.id);
  t.ok(events.some((e) => e.type === 'requeued' && /restart of worker w1/.test(e.message)));
  const { workers } = await stack.client.workers.list();
  t.match(workers, [{ id: 'w1', boot_id: 'boot-2', live: true }]);
});

t.test('artifacts: inline, S3 presigned upload verified by size and sha256, mismatch refused', async (t) => {
  const stack = await startStack(t);
  await withEchoTemplate(stack);
  const { client: w } = await stack.tokenFor('worker');
  await stack.client.runs.create({ template: 'echo', params: { message: 'x' } });
  const [claimed] = (await w.worker.claim({ worker_id: 'w', lanes: ['A'] })).runs;
  const lease = claimed!.lease_token;
  const runId = claimed!.run.id;
  const text = '# report\n';
  const inline = await w.worker.createArtifact(runId, {
    lease_token: lease,
    name: 'r.md',
    kind: 'markdown',
    content_type: 'text/markdown',
    size: text.length,
    sha256: sha(text),
    content: text,
  });
  t.equal(inline.artifact.status, 'ready');
  t.notOk(inline.upload);
  await t.rejects(
    w.worker.createArtifact(runId, {
      lease_token: lease,
      name: 'bad',
      kind: 'text',
      content_type: 'text/plain',
      size: 3,
      sha256: sha('nope'),
      content: 'abc',
    }),
    { code: 'validation_failed' },
  );
  const blob = Buffer.alloc(1024 * 1024, 7);
  const grant = await w.worker.createArtifact(runId, {
    lease_token: lease,
    name: 'blob.bin',
    kind: 'file',
    content_type: 'application/octet-stream',
    size: blob.length,
    sha256: sha(blob),
  });
  t.equal(grant.artifact.status, 'pending');
  await t.rejects(
    w.worker.completeArtifact(grant.artifact.id, lease),
    { code: 'conflict' },
    'nothing uploaded yet',
  );
  const put = await fetch(grant.upload!.url, { method: 'PUT', headers: grant.upload!.headers, body: blob });
  t.equal(put.status, 200);
  const ready = await w.worker.completeArtifact(grant.artifact.id, lease);
  t.equal(ready.status, 'ready');
  const liar = await w.worker.createArtifact(runId, {
    lease_token: lease,
    name: 'liar.bin',
    kind: 'file',
    content_type: 'application/octet-stream',
    size: 10,
    sha256: sha('0123456789'),
  });
  await fetch(liar.upload!.url, { method: 'PUT', headers: liar.upload!.headers, body: 'abcdefghij' });
  await t.rejects(
    w.worker.completeArtifact(liar.artifact.id, lease),
    { code: 'conflict' },
    'sha256 mismatch refused',
  );
  const meta = await stack.client.artifacts.get(grant.artifact.id);
  const downloaded = Buffer.from(await (await fetch(meta.download_url!)).arrayBuffer());
  t.equal(sha(downloaded), sha(blob), 'download round-trips byte for byte');
  const content = await stack.client.artifacts.content(inline.artifact.id);
  t.equal(await content.text(), text);
  const exported = await (await stack.client.runs.export(runId, 'markdown')).text();
  t.match(exported, /# Run /);
  t.match(exported, /r\.md \(markdown/);
});

t.test('lanes: caps, pause, metrics for autoscalers, wait reasons; sessions', async (t) => {
  const stack = await startStack(t, { s3: false });
  await withEchoTemplate(stack);
  await stack.client.lanes.update('A', { paused: true });
  const { run } = await stack.client.runs.create({ template: 'echo', params: { message: 'x' } });
  t.match(run.wait_reason, /lane A is paused/);
  const { client: w } = await stack.tokenFor('worker');
  t.same((await w.worker.claim({ worker_id: 'w', lanes: ['A'] })).runs, [], 'paused lane not served');
  await stack.client.lanes.update('A', { paused: false, max_concurrency: 0 });
  t.match((await stack.client.runs.get(run.id)).run.wait_reason, /concurrency cap \(0\)/);
  const metrics = await stack.client.lanes.metrics();
  t.match(metrics.lanes.A, { depth: 1, running: 0 });
  t.equal((await fetch(`${stack.apiUrl}/metrics`)).status, 401, '/metrics needs a token');
  const prom = await (
    await fetch(`${stack.apiUrl}/metrics`, { headers: { authorization: `Bearer ${stack.adminToken}` } })
  ).text();
  t.match(prom, /ocr_lane_queue_depth\{lane="A"\} 1/);
  const session = await stack.client.sessions.create({ name: 'deploy-42' });
  const { run: inSession } = await stack.client.runs.create({
    template: 'echo',
    params: { message: 'x' },
    session_id: session.id,
  });
  t.equal(inSession.session_id, session.id);
  await stack.client.sessions.close(session.id);
  await t.rejects(
    stack.client.runs.create({ template: 'echo', params: { message: 'x' }, session_id: session.id }),
    { code: 'conflict' },
  );
});

t.test('OpenAPI document covers every route', async (t) => {
  const stack = await startStack(t, { s3: false });
  const doc = (await (await fetch(`${stack.apiUrl}/docs/json`)).json()) as {
    openapi: string;
    paths: Record<string, Record<string, unknown>>;
  };
  t.match(doc.openapi, /^3\./);
  const expected = [
    'post /v1/runs',
    'post /v1/runs/batch',
    'get /v1/runs',
    'get /v1/runs/{id}',
    'post /v1/runs/{id}/cancel',
    'post /v1/runs/{id}/retry',
    'get /v1/runs/{id}/events',
    'get /v1/runs/{id}/artifacts',
    'get /v1/runs/{id}/export',
    'post /v1/runs/claim',
    'post /v1/runs/{id}/heartbeat',
    'post /v1/runs/heartbeat',
    'post /v1/runs/{id}/events',
    'post /v1/runs/{id}/complete',
    'post /v1/runs/complete',
    'post /v1/runs/{id}/release',
    'post /v1/runs/{id}/artifacts',
    'post /v1/artifacts/{id}/complete',
    'get /v1/artifacts/{id}',
    'get /v1/artifacts/{id}/content',
    'get /v1/templates',
    'post /v1/templates',
    'get /v1/templates/{name}',
    'put /v1/templates/{name}',
    'delete /v1/templates/{name}',
    'post /v1/templates/validate',
    'post /v1/templates/{name}/preview',
    'get /v1/lanes',
    'put /v1/lanes/{name}',
    'get /v1/lanes/metrics',
    'get /v1/sessions',
    'post /v1/sessions',
    'get /v1/sessions/{id}',
    'post /v1/sessions/{id}/close',
    'get /v1/workers',
    'get /v1/spec-docs',
    'get /v1/spec-docs/{id}',
    'get /v1/tokens',
    'post /v1/tokens',
    'delete /v1/tokens/{id}',
    'get /v1/whoami',
  ];
  for (const route of expected) {
    const [method, path] = route.split(' ') as [string, string];
    t.ok(doc.paths[path]?.[method], `OpenAPI has ${route}`);
  }
});

t.test(
  "other replicas hear this API's hints: enqueue, claim and completion arrive as NOTIFY after the commit",
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await withEchoTemplate(stack);
    // Another replica's LISTEN connection, as the API's listener opens it.
    const { client: replica, listen } = createListenClient(stack.db.url, 'test-replica');
    await listen();
    t.teardown(() => replica.end());
    const heard: { channel: string; payload: string }[] = [];
    replica.on('notification', (msg) => heard.push({ channel: msg.channel, payload: msg.payload ?? '' }));
    // True once a matching notification was heard; false after 10 s without one.
    const hear = async (channel: string, payload: (p: string) => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!heard.some((h) => h.channel === channel && payload(h.payload))) {
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 5));
      }
      return true;
    };
    const { client: worker } = await stack.tokenFor('worker');
    const { runs } = await stack.client.runs.createBatch([
      { template: 'echo', params: { message: 'a' } },
      { template: 'echo', params: { message: 'b' } },
    ]);
    t.ok(await hear(ENQUEUE_CHANNEL, (p) => p === 'A'), 'lane hint heard');
    t.equal(
      heard.filter((h) => h.channel === ENQUEUE_CHANNEL).length,
      1,
      'one lane hint for a batch into one lane',
    );
    const claimed = await worker.worker.claim({ worker_id: 'w', lanes: ['A'], limit: 2 });
    t.equal(claimed.runs.length, 2);
    for (const { run } of claimed.runs)
      t.ok(await hear(STATUS_CHANNEL, (p) => p === run.id), `claim hint for ${run.id.slice(0, 8)}`);
    await worker.worker.completeMany(
      claimed.runs.map((c) => ({
        run_id: c.run.id,
        lease_token: c.lease_token,
        status: 'success' as const,
        events: [{ seq: 1, level: 'info' as const, type: 'log', message: 'done' }],
      })),
    );
    for (const { id } of runs) {
      const final = await hear(EVENTS_CHANNEL, (p) => p.startsWith(`${id}:`) && Number(p.split(':')[1]) >= 3);
      t.ok(final, `run ${id.slice(0, 8)}: event hint up to its final status event`);
    }
    const { runs: succeeded } = await stack.client.runs.list({ status: 'success' });
    t.equal(succeeded.length, 2, 'the hints followed the commits');
  },
);
