// The hot calls of the worker protocol log at `warn` (issue 19): a fleet's thousands of claims, heartbeats,
// appends and completions a second no longer write two `info` lines each, while every other route still logs
// its requests; failures (5xx) still log at error.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createToken } from '@ocr/db';
import { createClient } from '@ocr/client';
import { loadApiConfig, startApi } from '@ocr/api';
import { createTestDatabase } from '@ocr/testkit';

t.test('worker protocol calls log at warn, other requests at info', async (t) => {
  const db = await createTestDatabase(t);
  const lines: { msg?: string; level: number; req?: { url?: string }; reqId?: string }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const adminToken = `ocr_test_admin_${randomBytes(24).toString('base64url')}`;
  const api = await startApi(
    loadApiConfig({
      DATABASE_URL: db.url,
      PORT: '0',
      HOST: '127.0.0.1',
      OCR_ADMIN_TOKEN: adminToken,
      OCR_MIGRATE: 'false',
    }),
    pino({ level: 'info' }, sink),
  );
  t.teardown(() => api.close());
  const admin = createClient({ baseUrl: api.url, token: adminToken });
  const { token } = await createToken(db.db, { name: 'w', role: 'worker' });
  const worker = createClient({ baseUrl: api.url, token });
  await admin.templates.create({ name: 'fast', default_lane: 'A', steps: [{ name: 'noop', kind: 'noop' }] });
  const { run } = await admin.runs.create({ template: 'fast' });
  const { runs } = await worker.worker.claim({ worker_id: 'w', lanes: ['A'], limit: 1 });
  const lease = runs[0]!.lease_token;
  await worker.worker.heartbeat(run.id, lease);
  await worker.worker.heartbeatMany([{ run_id: run.id, lease_token: lease }]);
  await worker.worker.appendEvents(run.id, lease, [{ seq: 1, level: 'info', type: 'log', message: 'x' }]);
  await worker.worker.completeMany([{ run_id: run.id, lease_token: lease, status: 'success' }]);
  const refused = await worker.worker.heartbeat(run.id, lease).catch((e: { status?: number }) => e);
  t.equal((refused as { status?: number }).status, 409, 'a heartbeat after completion is refused');
  await admin.runs.get(run.id);

  const urls = (msg: string) =>
    lines.filter((l) => l.msg === msg && l.req?.url).map((l) => l.req!.url!.split('?')[0]);
  const incoming = urls('incoming request');
  t.ok(incoming.includes(`/v1/runs/${run.id}`), 'a read is logged at info');
  t.ok(incoming.includes('/v1/runs') && incoming.includes('/v1/templates'), 'creates are logged at info');
  for (const hot of [
    '/v1/runs/claim',
    '/v1/runs/heartbeat',
    `/v1/runs/${run.id}/heartbeat`,
    `/v1/runs/${run.id}/events`,
    '/v1/runs/complete',
  ])
    t.notOk(incoming.includes(hot), `${hot}: no info line`);
});
