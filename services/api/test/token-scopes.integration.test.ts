// Lane- and template-scoped tokens (issue 16, row-level access): every route of the OpenAPI document is
// tried with a token whose allowlists exclude the target (403 out_of_scope, no row changed) and with one
// that includes it (not refused). The table below must cover every documented route, so a new route
// without a scope decision fails this test.
import t from 'tap';
import { once } from 'node:events';
import WebSocket from 'ws';
import { startStack, type Stack } from '@ocr/testkit';
import { ECHO_TEMPLATE, raw } from './helpers.js';

type Token = 'operator' | 'viewer' | 'worker' | 'admin';
/** What a route is tried against: a run (with its lease and an artifact) or a template name. */
interface Target {
  run: string;
  lease: string;
  artifact: string;
  template: string;
}
interface Row {
  method: string;
  /** As the OpenAPI document spells it. */
  path: string;
  token: Token;
  /** Run- and template-scoped routes: the request for a target. Absent: the route is not scoped (why). */
  request?: (target: Target) => { path: string; body?: unknown };
  /** Lists: out-of-scope rows are filtered, not refused (checked separately below). */
  unscoped?: string;
}

const event = { seq: 1000, level: 'info', type: 'log', message: 'x' };
const artifactBody = (lease: string) => ({
  lease_token: lease,
  name: 'scoped.txt',
  kind: 'text',
  content_type: 'text/plain',
  size: 1,
  sha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881',
  content: 'x',
});

const ROWS: Row[] = [
  { method: 'GET', path: '/v1/whoami', token: 'viewer', unscoped: 'the token itself' },
  {
    method: 'POST',
    path: '/v1/runs',
    token: 'operator',
    request: (x) => ({ path: '/v1/runs', body: { template: x.template, params: { message: 'm' } } }),
  },
  {
    method: 'POST',
    path: '/v1/runs/batch',
    token: 'operator',
    request: (x) => ({
      path: '/v1/runs/batch',
      body: { runs: [{ template: x.template, params: { message: 'm' } }] },
    }),
  },
  { method: 'GET', path: '/v1/runs', token: 'viewer', unscoped: 'a list: filtered to the scope' },
  { method: 'GET', path: '/v1/runs/{id}', token: 'viewer', request: (x) => ({ path: `/v1/runs/${x.run}` }) },
  {
    method: 'POST',
    path: '/v1/runs/{id}/cancel',
    token: 'operator',
    request: (x) => ({ path: `/v1/runs/${x.run}/cancel` }),
  },
  {
    method: 'POST',
    path: '/v1/runs/{id}/retry',
    token: 'operator',
    request: (x) => ({ path: `/v1/runs/${x.run}/retry` }),
  },
  {
    method: 'GET',
    path: '/v1/runs/{id}/events',
    token: 'viewer',
    request: (x) => ({ path: `/v1/runs/${x.run}/events` }),
  },
  {
    method: 'GET',
    path: '/v1/runs/{id}/artifacts',
    token: 'viewer',
    request: (x) => ({ path: `/v1/runs/${x.run}/artifacts` }),
  },
  {
    method: 'GET',
    path: '/v1/runs/{id}/export',
    token: 'viewer',
    request: (x) => ({ path: `/v1/runs/${x.run}/export` }),
  },
  {
    method: 'GET',
    path: '/v1/runs/compare',
    token: 'viewer',
    // The out-of-scope run on either side is enough: here it stands on both.
    request: (x) => ({ path: `/v1/runs/compare?a=${x.run}&b=${x.run}` }),
  },
  { method: 'POST', path: '/v1/runs/claim', token: 'worker', unscoped: 'claims: checked separately (lanes)' },
  {
    method: 'POST',
    path: '/v1/runs/{id}/heartbeat',
    token: 'worker',
    request: (x) => ({ path: `/v1/runs/${x.run}/heartbeat`, body: { lease_token: x.lease } }),
  },
  {
    method: 'POST',
    path: '/v1/runs/heartbeat',
    token: 'worker',
    request: (x) => ({
      path: '/v1/runs/heartbeat',
      body: { leases: [{ run_id: x.run, lease_token: x.lease }] },
    }),
  },
  {
    method: 'POST',
    path: '/v1/runs/{id}/events',
    token: 'worker',
    request: (x) => ({ path: `/v1/runs/${x.run}/events`, body: { lease_token: x.lease, events: [event] } }),
  },
  {
    method: 'POST',
    path: '/v1/runs/{id}/artifacts',
    token: 'worker',
    request: (x) => ({ path: `/v1/runs/${x.run}/artifacts`, body: artifactBody(x.lease) }),
  },
  {
    method: 'POST',
    path: '/v1/artifacts/{id}/complete',
    token: 'worker',
    request: (x) => ({ path: `/v1/artifacts/${x.artifact}/complete`, body: { lease_token: x.lease } }),
  },
  {
    method: 'POST',
    path: '/v1/runs/{id}/spec-docs',
    token: 'worker',
    request: (x) => ({
      path: `/v1/runs/${x.run}/spec-docs`,
      body: { lease_token: x.lease, project: 'p', docs: [{ name: 'prd.md', content: '# P' }] },
    }),
  },
  {
    method: 'POST',
    path: '/v1/runs/{id}/inputs/spec-docs',
    token: 'worker',
    request: (x) => ({
      path: `/v1/runs/${x.run}/inputs/spec-docs`,
      body: { lease_token: x.lease, project: 'p' },
    }),
  },
  {
    method: 'POST',
    path: '/v1/runs/{id}/inputs/artifact',
    token: 'worker',
    request: (x) => ({
      path: `/v1/runs/${x.run}/inputs/artifact`,
      body: { lease_token: x.lease, artifact_id: x.artifact },
    }),
  },
  {
    method: 'POST',
    path: '/v1/runs/{id}/release',
    token: 'worker',
    request: (x) => ({
      path: `/v1/runs/${x.run}/release`,
      body: { lease_token: x.lease, reason: 'scope test' },
    }),
  },
  {
    method: 'POST',
    path: '/v1/runs/{id}/complete',
    token: 'worker',
    request: (x) => ({
      path: `/v1/runs/${x.run}/complete`,
      body: { lease_token: x.lease, status: 'success' },
    }),
  },
  {
    method: 'POST',
    path: '/v1/runs/complete',
    token: 'worker',
    request: (x) => ({
      path: '/v1/runs/complete',
      body: { completions: [{ run_id: x.run, lease_token: x.lease, status: 'success' }] },
    }),
  },
  {
    method: 'GET',
    path: '/v1/artifacts/{id}',
    token: 'viewer',
    request: (x) => ({ path: `/v1/artifacts/${x.artifact}` }),
  },
  {
    method: 'GET',
    path: '/v1/artifacts/{id}/content',
    token: 'viewer',
    request: (x) => ({ path: `/v1/artifacts/${x.artifact}/content` }),
  },
  { method: 'GET', path: '/v1/templates', token: 'viewer', unscoped: 'a list: filtered to the scope' },
  { method: 'GET', path: '/v1/artifacts', token: 'viewer', unscoped: 'a list: filtered to the scope' },
  {
    method: 'POST',
    path: '/v1/templates',
    token: 'operator',
    request: (x) => ({ path: '/v1/templates', body: { ...ECHO_TEMPLATE, name: x.template } }),
  },
  { method: 'POST', path: '/v1/templates/validate', token: 'operator', unscoped: 'reads and writes nothing' },
  {
    method: 'GET',
    path: '/v1/templates/{name}',
    token: 'viewer',
    request: (x) => ({ path: `/v1/templates/${x.template}` }),
  },
  {
    method: 'PUT',
    path: '/v1/templates/{name}',
    token: 'operator',
    request: (x) => ({ path: `/v1/templates/${x.template}`, body: { ...ECHO_TEMPLATE, name: x.template } }),
  },
  {
    method: 'POST',
    path: '/v1/templates/{name}/preview',
    token: 'operator',
    request: (x) => ({ path: `/v1/templates/${x.template}/preview`, body: { params: { message: 'm' } } }),
  },
  {
    method: 'DELETE',
    path: '/v1/templates/{name}',
    token: 'operator',
    request: (x) => ({ path: `/v1/templates/${x.template}` }),
  },
  { method: 'GET', path: '/v1/lanes', token: 'viewer', unscoped: 'a list: filtered to the scope' },
  { method: 'GET', path: '/v1/lanes/metrics', token: 'viewer', unscoped: 'a list: filtered to the scope' },
  {
    method: 'PUT',
    path: '/v1/lanes/{name}',
    token: 'admin',
    unscoped: 'admin only; admin tokens cannot be scoped',
  },
  {
    method: 'GET',
    path: '/v1/sessions',
    token: 'viewer',
    unscoped: 'sessions are not lane or template data',
  },
  {
    method: 'POST',
    path: '/v1/sessions',
    token: 'operator',
    unscoped: 'sessions are not lane or template data',
  },
  {
    method: 'GET',
    path: '/v1/sessions/{id}',
    token: 'viewer',
    unscoped: 'sessions are not lane or template data',
  },
  {
    method: 'POST',
    path: '/v1/sessions/{id}/close',
    token: 'operator',
    unscoped: 'sessions are not lane or template data',
  },
  { method: 'GET', path: '/v1/workers', token: 'viewer', unscoped: 'the fleet, not runs' },
  { method: 'GET', path: '/v1/spec-docs', token: 'viewer', unscoped: 'project documents, not runs' },
  { method: 'GET', path: '/v1/spec-docs/{id}', token: 'viewer', unscoped: 'project documents, not runs' },
  { method: 'GET', path: '/v1/tokens', token: 'admin', unscoped: 'admin only' },
  { method: 'POST', path: '/v1/tokens', token: 'admin', unscoped: 'admin only' },
  { method: 'DELETE', path: '/v1/tokens/{id}', token: 'admin', unscoped: 'admin only' },
  { method: 'GET', path: '/v1/stream', token: 'viewer', unscoped: 'WebSocket: checked separately' },
];

/** Every row a request could change, as one digest per table (api_tokens.last_used_at excepted). */
async function snapshot(stack: Stack): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of [
    'runs',
    'run_events',
    'run_steps',
    'artifacts',
    'run_templates',
    'spec_docs',
    'workers',
    'sessions',
  ]) {
    const { rows } = await stack.db.pool.query(
      `SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h FROM ${table} t`,
    );
    out[table] = `${rows[0].n}:${rows[0].h}`;
  }
  return out;
}

/** A run of `template` in `lane`, claimed by `workerToken`, with one inline artifact. */
async function leasedRun(stack: Stack, workerToken: string, template: string, lane: string): Promise<Target> {
  // The message names project p, so the in-scope spec-docs input read is allowed.
  const created = await raw(stack, 'POST', '/v1/runs', {
    body: JSON.stringify({ template, lane, params: { message: 'p' } }),
  });
  if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.json)}`);
  const claimed = await raw(stack, 'POST', '/v1/runs/claim', {
    token: workerToken,
    body: JSON.stringify({ worker_id: `w-${lane}-${template}`, lanes: [lane], limit: 1 }),
  });
  const lease = claimed.json.runs?.[0];
  if (lease?.run.id !== created.json.run.id) throw new Error(`claim: ${JSON.stringify(claimed.json)}`);
  const artifact = await raw(stack, 'POST', `/v1/runs/${lease.run.id}/artifacts`, {
    token: workerToken,
    body: JSON.stringify({ ...artifactBody(lease.lease_token), name: 'first.txt' }),
  });
  if (artifact.status !== 201) throw new Error(`artifact: ${JSON.stringify(artifact.json)}`);
  return { run: lease.run.id, lease: lease.lease_token, artifact: artifact.json.artifact.id, template };
}

t.test(
  'scoped tokens: every route refuses out-of-scope targets (403, nothing changed) and serves in-scope ones',
  async (t) => {
    const stack = await startStack(t, { s3: false, env: { OCR_AUTH_CACHE_MS: '0' } });
    for (const [name, lane] of [
      ['ta', 'A'],
      ['tb', 'A'],
      ['tc', 'B'],
    ] as const)
      await stack.client.templates.create({ ...ECHO_TEMPLATE, name, default_lane: lane });
    const mint = async (role: Token, scope: { lanes?: string[]; templates?: string[] }) =>
      (await stack.client.tokens.create({ name: `scoped-${role}`, role: role as 'viewer', ...scope })).token;
    const scoped: Record<Token, string> = {
      admin: stack.adminToken,
      operator: await mint('operator', { lanes: ['A'], templates: ['ta', 'tc', 'td'] }),
      viewer: await mint('viewer', { lanes: ['A'], templates: ['ta', 'tc', 'td'] }),
      worker: await mint('worker', { lanes: ['A'] }),
    };
    const anyWorker = (await stack.tokenFor('worker')).token;

    // Out of scope by lane (ta in B) and by template (tb in A); the worker token is limited by lane only.
    const outByLane = await leasedRun(stack, anyWorker, 'ta', 'B');
    const outByTemplate = await leasedRun(stack, anyWorker, 'tb', 'A');
    const inScope = await leasedRun(stack, scoped.worker, 'ta', 'A');

    const scopedRows = ROWS.filter((r) => r.request);
    for (const row of scopedRows) {
      const targets =
        row.token === 'worker'
          ? [outByLane]
          : row.path.startsWith('/v1/templates') ||
              row.path.startsWith('/v1/runs/batch') ||
              row.path === '/v1/runs'
            ? [
                { ...outByTemplate, template: 'tb' },
                { ...outByTemplate, template: 'nope' },
                { ...outByTemplate, template: 'tc' },
              ]
            : [outByLane, outByTemplate];
      for (const target of targets) {
        // tc is in the template allowlist: only creating runs (its default lane is B) is out of scope.
        if (target.template === 'tc' && !['/v1/runs', '/v1/runs/batch'].includes(row.path)) continue;
        const { path, body } = row.request!(target);
        const before = await snapshot(stack);
        const answer = await raw(stack, row.method, path, {
          token: scoped[row.token],
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        t.equal(answer.status, 403, `${row.method} ${path} out of scope: ${JSON.stringify(answer.json)}`);
        t.equal(answer.json?.error?.code, 'out_of_scope', `${row.method} ${path}: code`);
        t.same(await snapshot(stack), before, `${row.method} ${path}: nothing changed`);
      }
    }

    // In scope: the same requests are served (complete and release last: they end the lease).
    const inTarget = { ...inScope, template: 'ta' };
    const order = [...scopedRows].sort(
      (a, b) =>
        Number(/release|complete$|DELETE/.test(`${a.method} ${a.path}`)) -
        Number(/release|complete$|DELETE/.test(`${b.method} ${b.path}`)),
    );
    for (const row of order) {
      // td is allowed and does not exist yet: creating it is the in-scope case of POST /v1/templates.
      const { path, body } = row.request!(
        row.path === '/v1/templates' ? { ...inTarget, template: 'td' } : inTarget,
      );
      const answer = await raw(stack, row.method, path, {
        token: scoped[row.token],
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const what = `${row.method} ${path} in scope: ${answer.status} ${JSON.stringify(answer.json)}`;
      if (row.path === '/v1/runs/{id}/inputs/artifact')
        // Past the scope check, the run must also name the artifact as an input (it does not): that rule's 403.
        t.match(answer.json.error, { code: 'forbidden', message: /is not an input/ }, what);
      else t.notOk([401, 403].includes(answer.status), what);
    }

    // Claims: a lane outside the worker token's lanes is refused whole and registers nothing.
    for (const lanes of [['B'], ['A', 'B']]) {
      const before = await snapshot(stack);
      const denied = await raw(stack, 'POST', '/v1/runs/claim', {
        token: scoped.worker,
        body: JSON.stringify({ worker_id: 'w-scoped-2', lanes }),
      });
      t.equal(denied.status, 403, `claim ${lanes}`);
      t.equal(denied.json.error.code, 'out_of_scope');
      t.same(await snapshot(stack), before, `claim ${lanes}: nothing changed`);
    }
    const allowed = await raw(stack, 'POST', '/v1/runs/claim', {
      token: scoped.worker,
      body: JSON.stringify({ worker_id: 'w-scoped-2', lanes: ['A'] }),
    });
    t.equal(allowed.status, 200, 'claim in its lanes');

    // Lists are filtered to the scope; naming an outside lane or template is refused.
    const runs = await raw(stack, 'GET', '/v1/runs?limit=200', { token: scoped.viewer });
    t.ok(runs.json.runs.length > 0, 'the scoped list is not empty');
    t.ok(
      runs.json.runs.every(
        (r: { lane: string; template: string }) => r.lane === 'A' && ['ta', 'tc', 'td'].includes(r.template),
      ),
      'runs: only lane A and its templates',
    );
    t.ok(
      runs.json.runs.some((r: { id: string }) => r.id === inScope.run),
      'runs: the in-scope run is listed',
    );
    for (const query of ['lane=B', 'template=tb']) {
      const denied = await raw(stack, 'GET', `/v1/runs?${query}`, { token: scoped.viewer });
      t.equal(denied.json.error?.code, 'out_of_scope', `runs?${query}`);
    }
    const artifacts = await raw(stack, 'GET', '/v1/artifacts?limit=200', { token: scoped.viewer });
    const artifactRuns = artifacts.json.artifacts.map((a: { run_id: string }) => a.run_id);
    t.ok(artifactRuns.includes(inScope.run), 'artifacts: the in-scope run has its artifacts listed');
    t.notOk(
      artifactRuns.includes(outByLane.run) || artifactRuns.includes(outByTemplate.run),
      'artifacts: none of runs outside the scope',
    );
    for (const query of ['lane=B', 'template=tb']) {
      const denied = await raw(stack, 'GET', `/v1/artifacts?${query}`, { token: scoped.viewer });
      t.equal(denied.json.error?.code, 'out_of_scope', `artifacts?${query}`);
    }
    // ta was retired by the in-scope DELETE above; tb exists but is outside the scope.
    const templates = await raw(stack, 'GET', '/v1/templates', { token: scoped.viewer });
    t.same(
      templates.json.templates.map((x: { name: string }) => x.name).sort(),
      ['tc', 'td'],
      'templates: only tc, td',
    );
    const lanes = await raw(stack, 'GET', '/v1/lanes', { token: scoped.viewer });
    t.same(
      lanes.json.lanes.map((l: { name: string }) => l.name),
      ['A'],
      'lanes: only A',
    );
    t.notOk(JSON.stringify(lanes.json).includes(outByTemplate.run), 'lanes: no run of template tb');
    const metrics = await raw(stack, 'GET', '/v1/lanes/metrics', { token: scoped.viewer });
    t.same(Object.keys(metrics.json.lanes), ['A'], 'lane metrics: only A');
    const whoami = await raw(stack, 'GET', '/v1/whoami', { token: scoped.operator });
    t.same(
      { lanes: whoami.json.lanes, templates: whoami.json.templates },
      { lanes: ['A'], templates: ['ta', 'tc', 'td'] },
    );
    const tokens = await stack.client.tokens.list();
    t.same(tokens.tokens.find((x) => x.name === 'scoped-worker')?.lanes, ['A'], 'the list shows allowlists');

    // Every documented route has a row (a new route must take a scope decision).
    const spec = (await (await fetch(`${stack.apiUrl}/docs/json`)).json()) as {
      paths: Record<string, object>;
    };
    const listed = new Set(ROWS.map((r) => `${r.method} ${r.path}`));
    for (const [path, ops] of Object.entries(spec.paths))
      for (const method of Object.keys(ops))
        t.ok(listed.has(`${method.toUpperCase()} ${path}`), `${method} ${path} has a row`);
  },
);

t.test('scoped tokens: admin tokens and worker template lists are refused at creation', async (t) => {
  const stack = await startStack(t, { s3: false });
  for (const body of [
    { name: 'a', role: 'admin', lanes: ['A'] },
    { name: 'w', role: 'worker', templates: ['x'] },
    { name: 'e', role: 'viewer', lanes: [] },
    { name: 'b', role: 'viewer', lanes: ['not a lane!'] },
  ]) {
    const before = await snapshot(stack);
    const answer = await raw(stack, 'POST', '/v1/tokens', { body: JSON.stringify(body) });
    t.equal(answer.status, 400, JSON.stringify(body));
    t.equal(answer.json.error.code, 'validation_failed');
    const { rows } = await stack.db.pool.query('SELECT count(*)::int AS n FROM api_tokens WHERE name = $1', [
      body.name,
    ]);
    t.equal(rows[0].n, 0, 'no token created');
    t.same(await snapshot(stack), before);
  }
});

t.test(
  'scoped tokens on the stream: out-of-scope runs cannot be followed; run changes and lanes are filtered',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await stack.client.templates.create({ ...ECHO_TEMPLATE, name: 'ta' });
    await stack.client.templates.create({ ...ECHO_TEMPLATE, name: 'tb' });
    const token = (
      await stack.client.tokens.create({ name: 'v', role: 'viewer', lanes: ['A'], templates: ['ta'] })
    ).token;
    const inside = (await stack.client.runs.create({ template: 'ta', params: { message: 'in' } })).run;
    const otherLane = (
      await stack.client.runs.create({ template: 'ta', lane: 'B', params: { message: 'b' } })
    ).run;
    const otherTemplate = (await stack.client.runs.create({ template: 'tb', params: { message: 't' } })).run;

    const ws = new WebSocket(`${stack.apiUrl.replace(/^http/, 'ws')}/v1/stream`, {
      headers: { authorization: `Bearer ${token}` },
    });
    t.teardown(() => ws.close());
    const messages: { type: string; [k: string]: unknown }[] = [];
    const waiting: [(m: (typeof messages)[number]) => boolean, (m: unknown) => void][] = [];
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      messages.push(m);
      for (const w of [...waiting]) {
        if (!w[0](m)) continue;
        waiting.splice(waiting.indexOf(w), 1);
        w[1](m);
      }
    });
    const next = (match: (m: (typeof messages)[number]) => boolean) =>
      new Promise<(typeof messages)[number]>((resolve) => {
        const seen = messages.find(match);
        if (seen) resolve(seen);
        else waiting.push([match, resolve as (m: unknown) => void]);
      });
    await once(ws, 'open');
    await next((m) => m.type === 'ready');
    const send = (m: unknown) => ws.send(JSON.stringify(m));

    for (const run of [otherLane, otherTemplate]) {
      send({ type: 'subscribe', topic: 'run', run_id: run.id });
      const refused = await next(
        (m) => m.type === 'error' && String((m.error as { message: string }).message).includes(run.id),
      );
      t.equal(
        (refused.error as { code: string }).code,
        'out_of_scope',
        `subscribe ${run.lane}/${run.template}`,
      );
    }
    send({ type: 'subscribe', topic: 'run', run_id: inside.id });
    await next((m) => m.type === 'subscribed' && m.run_id === inside.id);

    send({ type: 'subscribe', topic: 'lanes' });
    const lanes = await next((m) => m.type === 'lanes');
    t.same(
      (lanes.lanes as { name: string }[]).map((l) => l.name),
      ['A'],
      'lane snapshots: only A',
    );

    send({ type: 'subscribe', topic: 'runs' });
    await next((m) => m.type === 'subscribed' && m.topic === 'runs');
    // Cancel the outside runs first, then the inside one: when the inside change arrives, the outside ones
    // (published earlier) would have arrived before it.
    await stack.client.runs.cancel(otherLane.id);
    await stack.client.runs.cancel(otherTemplate.id);
    await stack.client.runs.cancel(inside.id);
    await next((m) => m.type === 'run' && (m.run as { id: string }).id === inside.id);
    const seen = messages.filter((m) => m.type === 'run').map((m) => (m.run as { id: string }).id);
    t.notOk(
      seen.includes(otherLane.id) || seen.includes(otherTemplate.id),
      'no run change outside the scope',
    );
    t.notOk(
      messages.some((m) => m.type === 'event' && m.run_id !== inside.id),
      'no event outside the scope',
    );
  },
);
