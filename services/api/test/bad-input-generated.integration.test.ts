// The generated bad-input suite (issue 16): every route of the OpenAPI document, each hit with seeded,
// reproducible mutations of a valid request — wrong types, huge and non-integer numbers, NUL / control
// characters / lone surrogates / bad UTF-8 in every string position (path, query, body keys and values),
// deep nesting, oversized and non-JSON bodies, unknown and missing fields. For every case it asserts: never
// a 5xx, every 4xx is the JSON error shape with a `code`, an answer within 2 s, and no state change on a 4xx.
// Reproduce a run with OCR_FUZZ_SEED=<seed printed below>; OCR_FUZZ_CASES sets the cases per route.
import { createHash, randomUUID } from 'node:crypto';
import t from 'tap';
import { startStack, type Stack } from '@ocr/testkit';
import { withEchoTemplate } from './helpers.js';
import { seededRandom as prng } from '@ocr/testkit/random';

const SEED = Number(process.env.OCR_FUZZ_SEED ?? 0x16_2026);
const CASES_PER_ROUTE = Number(process.env.OCR_FUZZ_CASES ?? 50);
const DEADLINE_MS = 2_000;
const BODY_LIMIT = 65_536;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Case {
  route: string;
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

const DEEP = '__DEEP_MARKER__';
const nested = (depth: number) => '['.repeat(depth) + '1' + ']'.repeat(depth);

/** Values no schema of this API accepts where a value of another kind is expected (and some it may). */
const BAD_VALUES: Json[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e20,
  2 ** 63,
  -(2 ** 63),
  1e308,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  '\u0001\u001f\u007f',
  'line\r\nbreak: x',
  '💥'.repeat(50),
  'x'.repeat(5_000),
  '+275760-09-13T00:00:00.000Z',
  '0000-00-00T00:00:00Z',
  [],
  [null],
  {},
  { a: { b: { c: 'd' } } },
  DEEP,
];
const DEPTHS = [65, 200, 3_000, 20_000];

/** Query and path values, already percent-encoded as a client would put them in a URL. */
const BAD_URL_VALUES = [
  '%00',
  'a%00b',
  '%ED%A0%80',
  '%FF%FE',
  '%zz',
  '%0D%0Aset-cookie:%20x',
  '..%2F..%2Fetc%2Fpasswd',
  'x'.repeat(3_000),
  '1e20',
  '9223372036854775808',
  '-1',
  'NaN',
  '',
  '%20',
  '%F0%9F%9A%80',
  '00000000-0000-0000-0000-000000000000',
  'true',
  '[]',
];

function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)]!;
}

/** Every position in a JSON value: a path of keys and indexes to an object member or array item. */
function positions(
  value: Json,
  path: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  const children: [string | number, Json][] = Array.isArray(value)
    ? value.map((item, i) => [i, item])
    : value && typeof value === 'object'
      ? Object.entries(value)
      : [];
  for (const [key, child] of children) {
    out.push([...path, key]);
    positions(child, [...path, key], out);
  }
  return out;
}

function containerAt(root: Json, path: (string | number)[]): Json {
  let node = root;
  for (const key of path) node = (node as Record<string | number, Json>)[key]!;
  return node;
}

/** One mutation of a valid body, as the text (or bytes) to send. */
function mutateBody(
  rnd: () => number,
  valid: Json,
): { kind: string; body: string | Buffer; contentType?: string } {
  const body = structuredClone(valid);
  const spots = positions(body);
  const roll = rnd();
  const finish = (kind: string, value: Json) => {
    let text = JSON.stringify(value);
    if (text.includes(JSON.stringify(DEEP))) {
      const depth = pick(rnd, DEPTHS);
      text = text.replace(JSON.stringify(DEEP), nested(depth));
      kind += ` (depth ${depth})`;
    }
    return { kind, body: text };
  };
  if (roll < 0.08 || spots.length === 0) {
    const whole = pick(rnd, [
      'not json',
      'truncated',
      'empty',
      'array',
      'null',
      'number',
      'deep',
      'oversized',
      'text/plain',
      'form',
      'bad utf-8',
    ] as const);
    switch (whole) {
      case 'not json':
        return { kind: 'body: not JSON', body: '{"a": tru' };
      case 'truncated':
        return { kind: 'body: truncated JSON', body: JSON.stringify(body).slice(0, -1) };
      case 'empty':
        return { kind: 'body: empty', body: '' };
      case 'array':
        return { kind: 'body: array', body: JSON.stringify([body]) };
      case 'null':
        return { kind: 'body: null', body: 'null' };
      case 'number':
        return { kind: 'body: number', body: '1e400' };
      case 'deep':
        return { kind: 'body: deep', body: nested(pick(rnd, DEPTHS)) };
      case 'oversized':
        return {
          kind: 'body: oversized',
          body: JSON.stringify({ ...(body as object), pad: 'x'.repeat(BODY_LIMIT) }),
        };
      case 'text/plain':
        return { kind: 'body: text/plain', body: JSON.stringify(body), contentType: 'text/plain' };
      case 'form':
        return {
          kind: 'body: form-encoded',
          body: 'a=1&b=2',
          contentType: 'application/x-www-form-urlencoded',
        };
      case 'bad utf-8': {
        const text = JSON.stringify(body);
        const at = Math.max(1, text.indexOf('"') + 1);
        return {
          kind: 'body: invalid UTF-8 bytes',
          body: Buffer.concat([
            Buffer.from(text.slice(0, at)),
            Buffer.from([0xff, 0xfe, 0xc0]),
            Buffer.from(text.slice(at)),
          ]),
        };
      }
    }
  }
  const spot = pick(rnd, spots);
  const parent = containerAt(body, spot.slice(0, -1)) as Record<string | number, Json>;
  const key = spot[spot.length - 1]!;
  const where = spot.join('.');
  const r = rnd();
  if (r < 0.6) {
    const value = pick(rnd, BAD_VALUES);
    parent[key] = value;
    return finish(`body.${where} = ${JSON.stringify(value)?.slice(0, 30)}`, body);
  }
  if (r < 0.72 && !Array.isArray(parent)) {
    delete parent[key];
    return finish(`body.${where}: removed`, body);
  }
  if (r < 0.84 && !Array.isArray(parent)) {
    const unknown = pick(rnd, [
      'zz_unknown',
      'a\u0000b',
      '\ud800',
      '__proto__',
      'constructor',
      'x'.repeat(300),
      'A-B',
      'x\r\ny',
    ]);
    parent[unknown] = 'v';
    return finish(
      `body.${spot.slice(0, -1).join('.')}: unknown key ${JSON.stringify(unknown).slice(0, 20)}`,
      body,
    );
  }
  if (r < 0.92 && typeof parent[key] === 'string') {
    parent[key] = `${parent[key] as string}${pick(rnd, ['\u0000', '\ud83d', '\u0007', '\r\n'])}`;
    return finish(`body.${where}: control char appended`, body);
  }
  if (parent[key] && typeof parent[key] === 'object' && !Array.isArray(parent[key])) {
    // A map key that breaks its schema (env names, header names, labels) in place of a valid one.
    const inner = parent[key] as Record<string, Json>;
    const first = Object.keys(inner)[0];
    const bad = pick(rnd, ['A-B', 'x\r\nInjected', '', 'k'.repeat(300), '1ABC', 'a b']);
    if (first !== undefined) {
      inner[bad] = inner[first]!;
      delete inner[first];
    } else inner[bad] = 'v';
    return finish(`body.${where}: bad key ${JSON.stringify(bad).slice(0, 20)}`, body);
  }
  parent[key] = DEEP;
  return finish(`body.${where} = deep`, body);
}

interface Fixture {
  runId: string;
  lease: string;
  artifactId: string;
  sessionId: string;
}

/** A valid request for each route (the starting point of every mutation), by `METHOD /openapi/path`. */
function validRequests(
  f: Fixture,
): Record<string, { path: Record<string, string>; query?: Record<string, string>; body?: Json }> {
  const lease = f.lease;
  const template: { [key: string]: Json } = {
    name: 'fuzz',
    description: 'generated',
    params_schema: {
      type: 'object',
      properties: { s: { type: 'string', pattern: '^a+$' }, n: { type: 'integer' } },
    },
    default_lane: 'A',
    timeout_s: 60,
    retry: { max_attempts: 2, backoff: { initial_s: 1, factor: 2, max_s: 10 } },
    steps: [
      { name: 'sh', kind: 'shell', script: 'echo {{params.s}}', env: { GREETING: 'hi' }, timeout_s: 5 },
      {
        name: 'web',
        kind: 'http',
        method: 'GET',
        url: 'https://example.com/{{params.s}}',
        headers: { 'x-a': 'b' },
        expect_status: [200],
      },
      { name: 'box', kind: 'docker', image: 'alpine:3.20', command: ['echo', 'hi'], env: { A: 'b' } },
      {
        name: 'tool',
        kind: 'mcp',
        server: { url: 'https://example.com/mcp', headers: { authorization: 'x' } },
        tool: 't',
        arguments: { a: 1 },
      },
    ],
  };
  const id = { id: f.runId };
  return {
    'POST /v1/runs': {
      path: {},
      body: {
        template: 'echo',
        params: { message: 'hi' },
        lane: 'A',
        priority: 1,
        labels: { team: 'ops' },
        max_attempts: 1,
        delay_s: 0,
      },
    },
    'GET /v1/runs': {
      path: {},
      query: {
        status: 'queued',
        lane: 'A',
        template: 'echo',
        q: 'hi',
        params: '{"message":"hi"}',
        limit: '5',
        created_after: '2020-01-01T00:00:00Z',
      },
    },
    'POST /v1/runs/batch': {
      path: {},
      body: {
        runs: [
          { template: 'echo', params: { message: 'a' } },
          { template: 'echo', params: { message: 'b' }, labels: { k: 'v' } },
        ],
      },
    },
    'GET /v1/runs/{id}': { path: id },
    'GET /v1/runs/compare': { path: {}, query: { a: id.id, b: id.id } },
    'POST /v1/runs/{id}/cancel': { path: { id: randomUUID() } },
    'POST /v1/runs/{id}/retry': { path: id },
    'GET /v1/runs/{id}/events': {
      path: id,
      query: { after_seq: '0', limit: '10', level: 'info,warn', q: 'x' },
    },
    'POST /v1/runs/{id}/events': {
      path: id,
      body: {
        lease_token: lease,
        events: [{ seq: 1, level: 'info', type: 'log', step: 's', message: 'm', data: { stream: 'stdout' } }],
      },
    },
    'GET /v1/runs/{id}/artifacts': { path: id },
    'POST /v1/runs/{id}/artifacts': {
      path: id,
      body: {
        lease_token: lease,
        name: 'a.txt',
        kind: 'text',
        content_type: 'text/plain',
        size: 1,
        sha256: createHash('sha256').update('x').digest('hex'),
        content: 'x',
      },
    },
    'GET /v1/runs/{id}/export': { path: id, query: { format: 'json' } },
    'POST /v1/runs/claim': {
      path: {},
      body: {
        worker_id: 'fuzz-worker',
        boot_id: 'b1',
        lanes: ['fuzz-empty'],
        limit: 1,
        wait_ms: 0,
        version: '1',
        concurrency: 1,
      },
    },
    'POST /v1/runs/{id}/heartbeat': { path: id, body: { lease_token: lease } },
    'POST /v1/runs/heartbeat': { path: {}, body: { leases: [{ run_id: f.runId, lease_token: lease }] } },
    'POST /v1/runs/{id}/complete': {
      path: id,
      body: { lease_token: lease, status: 'error', error: { code: 'x', message: 'm' }, output: { a: 1 } },
    },
    'POST /v1/runs/complete': {
      path: {},
      body: { completions: [{ run_id: f.runId, lease_token: lease, status: 'success', output: 1 }] },
    },
    'POST /v1/runs/{id}/release': { path: id, body: { lease_token: lease, reason: 'shutdown' } },
    'POST /v1/artifacts/{id}/complete': { path: { id: f.artifactId }, body: { lease_token: lease } },
    'POST /v1/runs/{id}/spec-docs': {
      path: id,
      body: { lease_token: lease, project: 'p', docs: [{ name: 'prd.md', content: '# P' }] },
    },
    'POST /v1/runs/{id}/inputs/spec-docs': { path: id, body: { lease_token: lease, project: 'p' } },
    'POST /v1/runs/{id}/inputs/artifact': {
      path: id,
      body: { lease_token: lease, artifact_id: f.artifactId },
    },
    'GET /v1/templates': { path: {} },
    'POST /v1/templates': { path: {}, body: template },
    'POST /v1/templates/validate': { path: {}, body: template },
    'GET /v1/templates/{name}': { path: { name: 'echo' } },
    'PUT /v1/templates/{name}': { path: { name: 'fuzz-put' }, body: { ...template, name: 'fuzz-put' } },
    'DELETE /v1/templates/{name}': { path: { name: 'never-saved' } },
    'POST /v1/templates/{name}/preview': {
      path: { name: 'echo' },
      body: { params: { message: 'hi', count: 2 } },
    },
    'GET /v1/whoami': { path: {} },
    'GET /v1/lanes': { path: {} },
    'GET /v1/lanes/metrics': { path: {} },
    'PUT /v1/lanes/{name}': { path: { name: 'fuzz-lane' }, body: { max_concurrency: 3, paused: false } },
    'GET /v1/sessions': { path: {} },
    'POST /v1/sessions': { path: {}, body: { name: 's', labels: { k: 'v' } } },
    'GET /v1/sessions/{id}': { path: { id: f.sessionId } },
    'POST /v1/sessions/{id}/close': { path: { id: randomUUID() } },
    'GET /v1/workers': { path: {} },
    'GET /v1/spec-docs': { path: {}, query: { project: 'p' } },
    'GET /v1/spec-docs/{id}': { path: { id: randomUUID() } },
    'GET /v1/tokens': { path: {} },
    'POST /v1/tokens': { path: {}, body: { name: 'fuzz', role: 'viewer' } },
    // Never a real token id: revoking the admin token would end the suite, not test the route.
    'DELETE /v1/tokens/{id}': { path: { id: randomUUID() } },
    'GET /v1/artifacts': {
      path: {},
      query: {
        template: 'echo',
        lane: 'A',
        kind: 'text',
        content_type: 'text/plain',
        name: '*.txt',
        min_size: '0',
        max_size: '1000',
        created_after: '2020-01-01T00:00:00Z',
        limit: '5',
      },
    },
    'GET /v1/artifacts/{id}': { path: { id: f.artifactId } },
    'GET /v1/artifacts/{id}/content': { path: { id: f.artifactId } },
    // Without an upgrade the stream is a 404; with bad query or headers it must stay a clean 4xx.
    'GET /v1/stream': { path: {} },
  };
}

/** The cases for one route: mutations of its path, query, headers or body, chosen by the seeded PRNG. */
function casesFor(
  rnd: () => number,
  route: string,
  op: { parameters?: { in: string; name: string }[]; requestBody?: unknown },
  valid: ReturnType<typeof validRequests>[string],
  n: number,
): Case[] {
  const [method, template] = route.split(' ') as [string, string];
  const params = op.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path').map((p) => p.name);
  const queryParams = params.filter((p) => p.in === 'query').map((p) => p.name);
  const out: Case[] = [];
  for (let i = 0; i < n; i++) {
    const path = {
      ...Object.fromEntries(Object.entries(valid.path).map(([k, v]) => [k, encodeURIComponent(v)])),
    };
    const query = {
      ...Object.fromEntries(Object.entries(valid.query ?? {}).map(([k, v]) => [k, encodeURIComponent(v)])),
    };
    const headers: Record<string, string> = {};
    let body: string | Buffer | undefined = valid.body === undefined ? undefined : JSON.stringify(valid.body);
    let kind: string;
    const targets = [
      ...(pathParams.length ? ['path'] : []),
      ...(queryParams.length || method === 'GET' ? ['query'] : []),
      ...(valid.body !== undefined
        ? ['body', 'body', 'body', 'body']
        : method === 'GET'
          ? []
          : ['stray body']),
      ...(template === '/v1/runs' || template === '/v1/runs/batch' ? ['idempotency'] : []),
    ];
    const target = pick(rnd, targets);
    if (target === 'path') {
      const name = pick(rnd, pathParams);
      path[name] = pick(rnd, BAD_URL_VALUES);
      kind = `path.${name} = ${path[name]!.slice(0, 30)}`;
    } else if (target === 'query') {
      const r = rnd();
      if (r < 0.15 || queryParams.length === 0) {
        query[pick(rnd, ['zz', 'a%00b', '%ED%A0%80'])] = '1';
        kind = 'query: unknown parameter';
      } else if (r < 0.25) {
        const name = pick(rnd, queryParams);
        query[name] = `${query[name] ?? '1'}&${name}=2`;
        kind = `query.${name}: repeated`;
      } else {
        const name = pick(rnd, queryParams);
        query[name] = pick(rnd, BAD_URL_VALUES);
        kind = `query.${name} = ${query[name]!.slice(0, 30)}`;
      }
    } else if (target === 'idempotency') {
      headers['idempotency-key'] = pick(rnd, ['', 'k'.repeat(201), ' ', 'ok-key', 'ünïcödé', '\t']);
      kind = `header idempotency-key = ${JSON.stringify(headers['idempotency-key']).slice(0, 20)}`;
    } else if (target === 'stray body') {
      body = pick(rnd, ['{"unexpected": true}', '{', nested(5_000), '']);
      headers['content-type'] = 'application/json';
      kind = `unexpected body ${body.slice(0, 12)}`;
    } else {
      const mutated = mutateBody(rnd, valid.body!);
      body = mutated.body;
      if (mutated.contentType) headers['content-type'] = mutated.contentType;
      kind = mutated.kind;
    }
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const url =
      template.replace(/\{(\w+)\}/g, (_, name: string) => path[name] ?? '') +
      (Object.keys(query).length
        ? `?${Object.entries(query)
            .map(([k, v]) => `${k}=${v}`)
            .join('&')}`
        : '');
    out.push({ route, kind, method, path: url, headers, body });
  }
  return out;
}

/** Row counts and a digest of the state a refused request must not touch. */
async function snapshot(stack: Stack): Promise<string> {
  const { rows } = await stack.db.pool.query(`
    SELECT (SELECT count(*) FROM runs) AS runs,
           (SELECT md5(coalesce(string_agg(id::text || status || attempt || cancel_requested || coalesce(lease_token::text, ''), ',' ORDER BY id), '')) FROM runs) AS run_state,
           (SELECT count(*) FROM run_timeline) AS events,
           (SELECT count(*) FROM run_templates) AS templates,
           (SELECT count(*) FROM artifacts) AS artifacts,
           (SELECT md5(coalesce(string_agg(id::text || status, ',' ORDER BY id), '')) FROM artifacts) AS artifact_state,
           (SELECT count(*) FROM sessions) AS sessions,
           (SELECT md5(coalesce(string_agg(id::text || status, ',' ORDER BY id), '')) FROM sessions) AS session_state,
           (SELECT count(*) FROM spec_docs) AS spec_docs,
           (SELECT md5(coalesce(string_agg(name || coalesce(max_concurrency, -1) || paused, ',' ORDER BY name), '')) FROM lanes) AS lanes,
           (SELECT md5(coalesce(string_agg(id::text || role || coalesce(revoked_at::text, ''), ',' ORDER BY id), '')) FROM api_tokens) AS tokens,
           (SELECT count(*) FROM workers) AS workers
  `);
  return JSON.stringify(rows[0]);
}

t.test(`generated bad input: every route × bad-input class, seed ${SEED}`, async (t) => {
  const stack = await startStack(t, {
    env: {
      OCR_BODY_LIMIT_BYTES: String(BODY_LIMIT),
      OCR_RATE_LIMIT_PER_MIN: '1000000',
      OCR_REQUEST_TIMEOUT_MS: '10000',
    },
  });
  await withEchoTemplate(stack);
  const worker = await stack.tokenFor('worker');
  const { run } = await stack.client.runs.create({ template: 'echo', params: { message: 'fixture' } });
  const claimed = await worker.client.worker.claim({
    worker_id: 'fixture-worker',
    lanes: ['A'],
    wait_ms: 5_000,
  });
  const lease = claimed.runs[0]!.lease_token;
  const artifact = await worker.client.worker.createArtifact(run.id, {
    lease_token: lease,
    name: 'f.txt',
    kind: 'text',
    content_type: 'text/plain',
    size: 1,
    sha256: createHash('sha256').update('y').digest('hex'),
    content: 'y',
  });
  const session = await stack.client.sessions.create({ name: 'fixture' });
  const fixture: Fixture = { runId: run.id, lease, artifactId: artifact.artifact.id, sessionId: session.id };

  const spec = (await (await fetch(`${stack.apiUrl}/docs/json`)).json()) as {
    paths: Record<
      string,
      Record<string, { parameters?: { in: string; name: string }[]; requestBody?: unknown }>
    >;
  };
  const valid = validRequests(fixture);
  const rnd = prng(SEED);
  const cases: Case[] = [];
  const routes: string[] = [];
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const route = `${method.toUpperCase()} ${path}`;
      routes.push(route);
      const base = valid[route];
      if (!base) {
        t.fail(
          `${route} is in the OpenAPI document but has no valid request to mutate: add it to validRequests`,
        );
        continue;
      }
      cases.push(...casesFor(rnd, route, op, base, CASES_PER_ROUTE));
    }
  }
  t.ok(routes.length >= 40, `${routes.length} routes from the OpenAPI document`);
  t.ok(cases.length >= 2_000, `${cases.length} cases (>= 2,000)`);

  const serverErrors: string[] = [];
  const hangs: string[] = [];
  const badShape: string[] = [];
  const changed: string[] = [];
  const statuses = new Map<number, number>();
  let slowest = { ms: 0, what: '' };
  const started = Date.now();
  for (const [index, c] of cases.entries()) {
    const what = `#${index} ${c.route} — ${c.kind}`;
    const before = await snapshot(stack);
    const t0 = performance.now();
    let status: number;
    let text: string;
    try {
      const res = await fetch(stack.apiUrl + c.path, {
        method: c.method,
        headers: { authorization: `Bearer ${stack.adminToken}`, ...c.headers },
        body: c.body,
        signal: AbortSignal.timeout(DEADLINE_MS),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      hangs.push(`${what}: ${(err as Error).name} ${(err as Error).message}`);
      continue;
    }
    const ms = performance.now() - t0;
    if (ms > slowest.ms) slowest = { ms, what };
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (status >= 500) serverErrors.push(`${what}: ${status} ${text.slice(0, 200)}`);
    if (status >= 400) {
      let code: unknown;
      try {
        code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
      } catch {
        code = undefined;
      }
      if (typeof code !== 'string') badShape.push(`${what}: ${status} ${text.slice(0, 120)}`);
      if (status < 500 && (await snapshot(stack)) !== before) changed.push(`${what}: ${status}`);
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const show = (list: string[]) => list.slice(0, 15).join('\n');
  t.comment(
    `seed ${SEED}: ${cases.length} cases over ${routes.length} routes in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; slowest ${slowest.ms.toFixed(0)} ms (${slowest.what})`,
  );
  t.equal(serverErrors.length, 0, `0 × 5xx\n${show(serverErrors)}`);
  t.equal(hangs.length, 0, `0 hangs (every answer within ${DEADLINE_MS} ms)\n${show(hangs)}`);
  t.equal(badShape.length, 0, `every 4xx has the JSON error shape with a code\n${show(badShape)}`);
  t.equal(changed.length, 0, `0 state changes on a 4xx\n${show(changed)}`);
  t.ok(
    (statuses.get(400) ?? 0) > cases.length / 2,
    'most cases are refused as invalid (the generator produces bad input)',
  );
});
