import t from 'tap';
import { pino } from 'pino';
import { buildApp, loadApiConfig } from '@ocr/api';
import { startStack } from '@ocr/testkit';
import { raw } from './helpers.js';

const RUN = '00000000-0000-4000-8000-000000000001';
const LEASE = { lease_token: '00000000-0000-4000-8000-000000000002' };

/** Every route with the least role it needs and a body that passes validation. */
const ROUTES: {
  method: string;
  path: string;
  role: 'viewer' | 'operator' | 'admin' | 'worker' | 'any';
  body?: unknown;
}[] = [
  { method: 'GET', path: '/v1/whoami', role: 'any' },
  { method: 'POST', path: '/v1/runs', role: 'operator', body: { template: 'nope' } },
  { method: 'POST', path: '/v1/runs/batch', role: 'operator', body: { runs: [{ template: 'nope' }] } },
  { method: 'GET', path: '/v1/runs', role: 'viewer' },
  { method: 'GET', path: `/v1/runs/${RUN}`, role: 'viewer' },
  { method: 'POST', path: `/v1/runs/${RUN}/cancel`, role: 'operator' },
  { method: 'POST', path: `/v1/runs/${RUN}/retry`, role: 'operator' },
  { method: 'GET', path: `/v1/runs/${RUN}/events`, role: 'viewer' },
  { method: 'GET', path: `/v1/runs/${RUN}/artifacts`, role: 'viewer' },
  { method: 'GET', path: `/v1/runs/${RUN}/export`, role: 'viewer' },
  { method: 'POST', path: '/v1/runs/claim', role: 'worker', body: { worker_id: 'w', lanes: ['A'] } },
  { method: 'POST', path: `/v1/runs/${RUN}/heartbeat`, role: 'worker', body: LEASE },
  {
    method: 'POST',
    path: '/v1/runs/heartbeat',
    role: 'worker',
    body: { leases: [{ run_id: RUN, ...LEASE }] },
  },
  {
    method: 'POST',
    path: `/v1/runs/${RUN}/events`,
    role: 'worker',
    body: { ...LEASE, events: [{ seq: 1, level: 'info', type: 'log' }] },
  },
  { method: 'POST', path: `/v1/runs/${RUN}/complete`, role: 'worker', body: { ...LEASE, status: 'success' } },
  {
    method: 'POST',
    path: '/v1/runs/complete',
    role: 'worker',
    body: { completions: [{ run_id: RUN, ...LEASE, status: 'success' }] },
  },
  { method: 'POST', path: `/v1/runs/${RUN}/release`, role: 'worker', body: { ...LEASE, reason: 'x' } },
  {
    method: 'POST',
    path: `/v1/runs/${RUN}/artifacts`,
    role: 'worker',
    body: {
      ...LEASE,
      name: 'a',
      kind: 'text',
      content_type: 'text/plain',
      size: 1,
      sha256: 'a'.repeat(64),
      content: 'x',
    },
  },
  { method: 'POST', path: `/v1/artifacts/${RUN}/complete`, role: 'worker', body: LEASE },
  {
    method: 'POST',
    path: `/v1/runs/${RUN}/spec-docs`,
    role: 'worker',
    body: { ...LEASE, project: 'p', docs: [{ name: 'prd.md', content: '# P' }] },
  },
  {
    method: 'POST',
    path: `/v1/runs/${RUN}/inputs/spec-docs`,
    role: 'worker',
    body: { ...LEASE, project: 'p' },
  },
  {
    method: 'POST',
    path: `/v1/runs/${RUN}/inputs/artifact`,
    role: 'worker',
    body: { ...LEASE, artifact_id: RUN },
  },
  { method: 'GET', path: '/v1/artifacts', role: 'viewer' },
  { method: 'GET', path: '/v1/runs/compare', role: 'viewer' },
  { method: 'GET', path: `/v1/artifacts/${RUN}`, role: 'viewer' },
  { method: 'GET', path: `/v1/artifacts/${RUN}/content`, role: 'viewer' },
  { method: 'GET', path: '/v1/templates', role: 'viewer' },
  {
    method: 'POST',
    path: '/v1/templates',
    role: 'operator',
    body: { name: 'x', steps: [{ name: 's', kind: 'noop' }] },
  },
  { method: 'GET', path: '/v1/templates/x', role: 'viewer' },
  {
    method: 'PUT',
    path: '/v1/templates/y',
    role: 'operator',
    body: { name: 'y', steps: [{ name: 's', kind: 'noop' }] },
  },
  { method: 'DELETE', path: '/v1/templates/zz', role: 'operator' },
  { method: 'POST', path: '/v1/templates/validate', role: 'operator', body: {} },
  { method: 'POST', path: '/v1/templates/x/preview', role: 'operator', body: {} },
  { method: 'GET', path: '/v1/lanes', role: 'viewer' },
  { method: 'GET', path: '/v1/lanes/metrics', role: 'viewer' },
  { method: 'PUT', path: '/v1/lanes/A', role: 'admin', body: { paused: false } },
  { method: 'GET', path: '/v1/sessions', role: 'viewer' },
  { method: 'POST', path: '/v1/sessions', role: 'operator', body: { name: 's' } },
  { method: 'GET', path: `/v1/sessions/${RUN}`, role: 'viewer' },
  { method: 'POST', path: `/v1/sessions/${RUN}/close`, role: 'operator' },
  { method: 'GET', path: '/v1/workers', role: 'viewer' },
  { method: 'GET', path: '/v1/spec-docs', role: 'viewer' },
  { method: 'GET', path: `/v1/spec-docs/${RUN}`, role: 'viewer' },
  { method: 'GET', path: '/v1/tokens', role: 'admin' },
  { method: 'POST', path: '/v1/tokens', role: 'admin', body: { name: 'n', role: 'viewer' } },
  { method: 'DELETE', path: `/v1/tokens/${RUN}`, role: 'admin' },
];

const WEAKER: Record<string, ('viewer' | 'operator' | 'worker')[]> = {
  any: [],
  viewer: ['worker'],
  operator: ['viewer', 'worker'],
  admin: ['viewer', 'operator', 'worker'],
  worker: ['viewer', 'operator'],
};

t.test('every route: 401 without a token, 403 with a weaker role, allowed with its role', async (t) => {
  // Every route is tried with a bad token: more failures than one address may have by default.
  const stack = await startStack(t, { s3: false, env: { OCR_AUTH_FAILURES_PER_MIN: '100000' } });
  const tokens: Record<string, string> = { admin: stack.adminToken };
  for (const role of ['viewer', 'operator', 'worker'] as const)
    tokens[role] = (await stack.tokenFor(role)).token;
  for (const route of ROUTES) {
    const body = route.body === undefined ? undefined : JSON.stringify(route.body);
    const anonymous = await raw(stack, route.method, route.path, { token: null, body });
    t.equal(anonymous.status, 401, `${route.method} ${route.path} without token`);
    t.equal(anonymous.json.error.code, 'unauthorized');
    const bogus = await raw(stack, route.method, route.path, { token: 'ocr_not_a_real_token_at_all', body });
    t.equal(bogus.status, 401, `${route.method} ${route.path} bad token`);
    for (const weaker of WEAKER[route.role]!) {
      const denied = await raw(stack, route.method, route.path, { token: tokens[weaker], body });
      t.equal(denied.status, 403, `${route.method} ${route.path} as ${weaker}`);
      t.equal(denied.json.error.code, 'forbidden');
    }
    const allowed = await raw(stack, route.method, route.path, {
      token: tokens[route.role === 'any' ? 'worker' : route.role],
      body,
    });
    t.notOk(
      [401, 403].includes(allowed.status),
      `${route.method} ${route.path} as ${route.role}: ${allowed.status}`,
    );
  }
});

t.test('revoked tokens stop working; tokens are shown once and stored hashed', async (t) => {
  const stack = await startStack(t, { s3: false });
  const created = await stack.client.tokens.create({ name: 'temp', role: 'viewer' });
  t.match(created.token, /^ocr_/);
  const listed = await stack.client.tokens.list();
  t.notOk(JSON.stringify(listed).includes(created.token), 'the list never shows a token value');
  const { rows } = await stack.db.pool.query('SELECT token_hash FROM api_tokens WHERE id = $1', [created.id]);
  t.not(rows[0].token_hash, created.token);
  await stack.client.tokens.revoke(created.id);
  // The auth cache holds a verdict for a few seconds; a fresh token value is never cached, so check via DB.
  const { rows: revoked } = await stack.db.pool.query('SELECT revoked_at FROM api_tokens WHERE id = $1', [
    created.id,
  ]);
  t.ok(revoked[0].revoked_at);
  const other = await raw(stack, 'GET', '/v1/whoami', { token: created.token });
  t.equal(other.status, 401, 'revoked token refused');
});

t.test(
  'deny by default: every route of the OpenAPI document is in this table, and a route without a role cannot register',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    const spec = (await (await fetch(`${stack.apiUrl}/docs/json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const listed = new Set(
      ROUTES.map(
        (r) =>
          `${r.method} ${r.path
            .replace(/\/[0-9a-f-]{36}/g, '/{id}')
            .replace(/\/v1\/templates\/(x|y|zz)/, '/v1/templates/{name}')
            .replace('/v1/lanes/A', '/v1/lanes/{name}')}`,
      ),
    );
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    for (const route of documented.filter((r) => r !== 'GET /v1/stream'))
      t.ok(listed.has(route), `${route} has a row in ROUTES (its 401/403 checks)`);

    const app = await buildApp({
      db: stack.db.db,
      pool: stack.db.pool,
      config: loadApiConfig({ DATABASE_URL: stack.db.url }),
      log: pino({ level: 'silent' }),
    });
    t.teardown(() => app.close());
    t.throws(
      () => app.get('/v1/forgotten', async () => 'open'),
      /declares no role/,
      'a route without config.role refuses to register',
    );
    t.doesNotThrow(() => app.get('/v1/declared', { config: { role: 'admin' } }, async () => 'ok'));
  },
);
