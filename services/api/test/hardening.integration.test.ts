// Regression tests for the findings of issue 16 (API hardening), one per finding, named after the bug.
import { connect as netConnect } from 'node:net';
import t from 'tap';
import { pino } from 'pino';
import { buildApp, loadApiConfig, startApi } from '@ocr/api';
import { ensureBootstrapToken, hashToken } from '@ocr/db';
import { startStack } from '@ocr/testkit';
import { raw, withEchoTemplate } from './helpers.js';

const RUN = '00000000-0000-4000-8000-000000000001';
const nested = (depth: number, leaf = '1') => '['.repeat(depth) + leaf + ']'.repeat(depth);

t.test('a NUL byte in a query string or a path is a 400, not a 500', async (t) => {
  const stack = await startStack(t, { s3: false });
  await withEchoTemplate(stack);
  for (const [method, path] of [
    ['GET', '/v1/runs?q=a%00b'],
    ['GET', `/v1/runs/${RUN}/events?q=a%00b`],
    ['GET', '/v1/templates/a%00b'],
    ['DELETE', '/v1/templates/a%00b'],
    ['GET', '/v1/spec-docs?project=a%00b'],
  ] as const) {
    const res = await raw(stack, method, path);
    t.equal(res.status, 400, `${method} ${path}`);
    t.equal(res.json.error.code, 'validation_failed');
  }
  const preview = await raw(stack, 'POST', '/v1/templates/a%00b/preview', { body: '{}' });
  t.equal(preview.status, 400, 'preview with NUL in the name');
  const replaced = await raw(stack, 'GET', '/v1/runs?q=%ED%A0%80');
  t.equal(replaced.status, 200, 'invalid UTF-8 in a query decodes to U+FFFD, which is storable');
});

t.test('after_seq out of range (1e20, 2^63) and far-future cursors are 400s', async (t) => {
  const stack = await startStack(t, { s3: false });
  for (const v of ['1e20', '9223372036854775808', '9007199254740992', '-1']) {
    const res = await raw(stack, 'GET', `/v1/runs/${RUN}/events?after_seq=${v}`);
    t.equal(res.status, 400, `after_seq=${v}`);
    t.match(res.json.error.message, /after_seq/);
  }
  for (const date of [
    '+275760-09-13T00:00:00.000Z',
    '0000-01-01T00:00:00.000Z',
    '2026-13-45T99:99:99.999Z',
  ]) {
    const cursor = Buffer.from(`${date}|${RUN}`).toString('base64url');
    const res = await raw(stack, 'GET', `/v1/runs?cursor=${cursor}`);
    t.equal(res.status, 400, `cursor at ${date}`);
    t.match(res.json.error.message, /cursor/);
  }
});

t.test(
  'bodies nested thousands of levels deep are a 400 (no stack overflow); worker output is cut, not refused',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await withEchoTemplate(stack);
    for (const depth of [65, 3_000, 100_000]) {
      const params = await raw(stack, 'POST', '/v1/runs', {
        body: `{"template":"echo","params":{"message":${nested(depth)}}}`,
      });
      t.equal(params.status, 400, `params nested ${depth}`);
      t.match(params.json.error.message, /nested deeper than 64/);
      const validate = await raw(stack, 'POST', '/v1/templates/validate', {
        body: `{"name":"x","params_schema":${nested(depth, '{}').replace(/\[/g, '{"a":').replace(/\]/g, '}')},"steps":[]}`,
      });
      t.equal(validate.status, 400, `validate body nested ${depth}`);
      const schema = await raw(stack, 'POST', '/v1/templates', {
        body: JSON.stringify({ name: 'deep', steps: [{ name: 's', kind: 'noop' }] }).replace(
          '"steps"',
          `"params_schema":{"type":"object","properties":{"a":${'{"items":'.repeat(depth)}{}${'}'.repeat(depth)}}},"steps"`,
        ),
      });
      t.equal(schema.status, 400, `params_schema nested ${depth}`);
    }
    const worker = await stack.tokenFor('worker');
    const { run } = await stack.client.runs.create({ template: 'echo', params: { message: 'x' } });
    const claimed = await worker.client.worker.claim({ worker_id: 'deep-w', lanes: ['A'], wait_ms: 5_000 });
    t.equal(claimed.runs[0]?.run.id, run.id);
    const lease = claimed.runs[0]!.lease_token;
    const res = await raw(stack, 'POST', `/v1/runs/${run.id}/events`, {
      token: worker.token,
      body: `{"lease_token":"${lease}","events":[{"seq":1,"level":"info","type":"log","data":${nested(100_000)}}]}`,
    });
    t.equal(res.status, 200, 'deep event data is stored cut at 64 levels');
    t.equal(res.json.accepted, 1);
  },
);

t.test(
  'preview of a template with a non-string env value (or an env name like A-B) cannot be saved',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    for (const env of [{ 'A-B': 'x' }, { OK: 1 }, { 'A-B': 1 }, { ['X'.repeat(300)]: 'x' }]) {
      const body = JSON.stringify({
        name: 'envy',
        steps: [{ name: 's', kind: 'shell', script: 'true', env }],
      });
      const saved = await raw(stack, 'POST', '/v1/templates', { body });
      t.equal(saved.status, 400, `env ${JSON.stringify(env).slice(0, 40)} refused at save`);
      const check = await raw(stack, 'POST', '/v1/templates/validate', { body });
      t.equal(check.status, 400, 'and /templates/validate calls it invalid');
      t.equal(check.json.error.code, 'validation_failed');
    }
    for (const headers of [{ 'x-a\r\nx-b': 'v' }, { 'x-a': 'v\r\nx-b: w' }, { 'bad name': 'v' }]) {
      for (const step of [
        { name: 's', kind: 'http', url: 'https://example.com', headers },
        { name: 's', kind: 'mcp', server: { url: 'https://example.com/mcp', headers }, tool: 't' },
      ]) {
        const body = JSON.stringify({ name: 'hdr', steps: [step] });
        t.equal(
          (await raw(stack, 'POST', '/v1/templates', { body })).status,
          400,
          `${step.kind} header ${JSON.stringify(headers)} refused`,
        );
        t.equal((await raw(stack, 'POST', '/v1/templates/validate', { body })).status, 400);
      }
    }
    const label = await raw(stack, 'POST', '/v1/sessions', {
      body: JSON.stringify({ name: 's', labels: { ['k'.repeat(101)]: 'v' } }),
    });
    t.equal(label.status, 400, 'a label key over 100 characters is refused');
    t.equal(
      Number((await stack.db.pool.query('SELECT count(*) FROM run_templates')).rows[0].count),
      0,
      'nothing saved',
    );
  },
);

t.test(
  'ReDoS: a params schema pattern ^(a+)+$ answers within 50 ms; backtracking-only patterns are refused at save',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await stack.client.templates.create({
      name: 'redos',
      params_schema: {
        type: 'object',
        properties: { s: { type: 'string', pattern: '^(a+)+$' } },
        patternProperties: { '^(x+x+)+y$': { type: 'string' } },
      },
      steps: [{ name: 's', kind: 'noop' }],
    });
    const ok = await raw(stack, 'POST', '/v1/runs', {
      body: JSON.stringify({ template: 'redos', params: { s: 'aaaa' } }),
    });
    t.equal(ok.status, 201, 'a matching value is accepted (and the validator is compiled)');
    // A backtracking engine needs ~2 s for 29 characters and doubles per character: for 5,000 it would never
    // answer. The best of five round trips is compared with 50 ms, so a loaded test machine cannot fail it.
    for (const s of ['a'.repeat(29) + 'b', 'a'.repeat(5_000) + '!']) {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const res = await raw(stack, 'POST', '/v1/runs', {
          body: JSON.stringify({ template: 'redos', params: { s, ['x'.repeat(5_000)]: 'v' } }),
        });
        times.push(performance.now() - started);
        t.equal(res.status, 400, 'the value fails the pattern');
      }
      t.ok(
        Math.min(...times) < 50,
        `${s.length} chars: answered in ${Math.min(...times).toFixed(1)} ms (best of 5; < 50)`,
      );
    }
    for (const pattern of ['^(a)\\1$', '^(?=a)a$', '^(?!b)']) {
      const res = await raw(stack, 'POST', '/v1/templates', {
        body: JSON.stringify({
          name: 'lookaround',
          params_schema: { type: 'object', properties: { s: { type: 'string', pattern } } },
          steps: [{ name: 's', kind: 'noop' }],
        }),
      });
      t.equal(res.status, 400, `pattern ${pattern} refused at save`);
      t.match(res.json.error.message, /params_schema/);
    }
  },
);

t.test('a body trickled a byte at a time is cut off with a 408 within the request timeout', async (t) => {
  const stack = await startStack(t, { s3: false, env: { OCR_REQUEST_TIMEOUT_MS: '1000' } });
  const { port } = new URL(stack.apiUrl);
  for (const token of [stack.adminToken, undefined]) {
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = netConnect(Number(port), '127.0.0.1');
      let received = '';
      const head = `POST /v1/runs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n${token ? `authorization: Bearer ${token}\r\n` : ''}\r\n`;
      socket.write(head);
      const trickle = setInterval(() => socket.write('{'), 200);
      socket.on('data', (chunk) => (received += String(chunk)));
      socket.on('close', () => {
        clearInterval(trickle);
        resolve(received);
      });
      socket.on('error', reject);
    });
    const seconds = (Date.now() - started) / 1000;
    // Without a token the request is refused (401) before its body is read; with one, the body times out.
    t.match(
      answer,
      token ? /^HTTP\/1\.1 408/ : /^HTTP\/1\.1 (401|408)/,
      `${token ? 'with' : 'without'} a token: ${answer.slice(9, 12)}`,
    );
    // The body would take 200 s to arrive; a timeout of 1 s (checked every 250 ms) cuts it long before. The
    // bound is loose on purpose: on a loaded machine the cut comes late, but never near the body's end.
    t.ok(seconds < 30, `cut off after ${seconds.toFixed(1)} s (the whole body would take 200 s)`);
  }
});

t.test('bad tokens are budgeted per address: 60 bad tokens cost 20 lookups, not 60', async (t) => {
  const stack = await startStack(t, {
    s3: false,
    env: { OCR_AUTH_FAILURES_PER_MIN: '20', OCR_AUTH_CACHE_MS: '60000' },
  });
  t.equal((await raw(stack, 'GET', '/v1/whoami')).status, 200, 'the admin token, cached');
  const statuses: number[] = [];
  for (let i = 0; i < 60; i++)
    statuses.push((await raw(stack, 'GET', '/v1/whoami', { token: `ocr_bad_${i}` })).status);
  t.equal(statuses.filter((s) => s === 401).length, 20, 'the first 20 are looked up and refused');
  t.equal(statuses.filter((s) => s === 429).length, 40, 'the rest are 429 without a lookup');
  const limited = await raw(stack, 'GET', '/v1/whoami', { token: 'ocr_bad_x' });
  t.equal(limited.json.error.code, 'rate_limited');
  t.equal(
    (await raw(stack, 'GET', '/v1/whoami')).status,
    200,
    'a cached valid token from the same address keeps working',
  );
});

t.test('the token cache is bounded LRU: a busy token stays cached past 10,000 others', async (t) => {
  const stack = await startStack(t, {
    s3: false,
    env: { OCR_AUTH_FAILURES_PER_MIN: '100000', OCR_AUTH_CACHE_MS: '60000' },
  });
  const viewer = await stack.tokenFor('viewer');
  t.equal((await raw(stack, 'GET', '/v1/whoami', { token: viewer.token })).status, 200);
  await Promise.all(
    Array.from({ length: 8 }, async (_, worker) => {
      for (let i = worker; i < 10_100; i += 8) {
        await stack.api.app.authenticate(`ocr_miss_${i}`).catch(() => undefined);
        if (i % 1000 === worker) await stack.api.app.authenticate(viewer.token);
      }
    }),
  );
  // Revoke behind the API's back: a cached verdict still answers, which shows the entry survived.
  await stack.db.pool.query("UPDATE api_tokens SET revoked_at = now() WHERE name = 'test-viewer'");
  t.equal(
    (await raw(stack, 'GET', '/v1/whoami', { token: viewer.token })).status,
    200,
    'the busy token was not evicted by 10,100 misses',
  );
});

t.test(
  'idempotency keys are per token and bound to the request: same key, other request → 409, nothing created',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await withEchoTemplate(stack);
    const count = async () => Number((await stack.db.pool.query('SELECT count(*) FROM runs')).rows[0].count);
    const a = (await stack.tokenFor('operator')).token;
    const b = (await stack.client.tokens.create({ name: 'op-b', role: 'operator' })).token;
    const send = (token: string, body: unknown, path = '/v1/runs') =>
      raw(stack, 'POST', path, { token, body: JSON.stringify(body), headers: { 'idempotency-key': 'k-1' } });
    const first = await send(a, { template: 'echo', params: { message: 'one' }, labels: { x: '1', y: '2' } });
    t.equal(first.status, 201);
    const replay = await send(a, {
      labels: { y: '2', x: '1' },
      params: { message: 'one' },
      template: 'echo',
    });
    t.equal(replay.status, 200, 'the same request (keys in another order) replays');
    t.equal(replay.json.run.id, first.json.run.id);
    const other = await send(b, { template: 'echo', params: { message: 'one' }, labels: { x: '1', y: '2' } });
    t.equal(other.status, 201, "another token's key of the same name is its own");
    t.not(other.json.run.id, first.json.run.id);
    const before = await count();
    const clash = await send(a, { template: 'echo', params: { message: 'two' } });
    t.equal(clash.status, 409, 'same key, different request');
    t.equal(clash.json.error.code, 'idempotency_conflict');
    t.equal(clash.json.error.details.run_id, first.json.run.id);
    t.equal(await count(), before, 'nothing created');

    const batch = {
      runs: [
        { template: 'echo', params: { message: 'a' } },
        { template: 'echo', params: { message: 'b' } },
      ],
    };
    const created = await send(a, batch, '/v1/runs/batch');
    t.equal(created.status, 201);
    const again = await send(a, batch, '/v1/runs/batch');
    t.same(
      again.json.runs.map((r: { id: string }) => r.id),
      created.json.runs.map((r: { id: string }) => r.id),
      'a replayed batch answers with its runs',
    );
    const grown = await count();
    const bigger = await send(
      a,
      { runs: [...batch.runs, { template: 'echo', params: { message: 'c' } }] },
      '/v1/runs/batch',
    );
    t.equal(bigger.status, 409, 'a different batch under the same key');
    t.equal(await count(), grown, 'not even its new third item was created');
  },
);

t.test(
  'bootstrap token: a revoke sticks across restarts, and no part of a chosen value is stored',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    const { rows } = await stack.db.pool.query(
      "SELECT id, prefix FROM api_tokens WHERE name = 'bootstrap-admin'",
    );
    t.notOk(
      stack.adminToken.startsWith(rows[0].prefix),
      `prefix ${rows[0].prefix} is not the start of the token`,
    );
    const chosen = 'my-very-own-admin-secret-of-32-chars!';
    await ensureBootstrapToken(stack.db.db, chosen);
    const { rows: chosenRows } = await stack.db.pool.query(
      'SELECT prefix FROM api_tokens WHERE token_hash = $1',
      [hashToken(chosen)],
    );
    t.match(chosenRows[0].prefix, /^#[0-9a-f]{7}$/, 'a chosen token is recognised by a hash prefix');
    await stack.client.tokens.revoke(rows[0].id);
    const again = await ensureBootstrapToken(stack.db.db, stack.adminToken);
    t.same(again, { created: false, revoked: true }, 'a restart does not bring it back');
    const restarted = await startApi(
      loadApiConfig({
        DATABASE_URL: stack.db.url,
        PORT: '0',
        HOST: '127.0.0.1',
        OCR_ADMIN_TOKEN: stack.adminToken,
        OCR_MIGRATE: 'false',
      }),
      pino({ level: 'silent' }),
    );
    t.teardown(() => restarted.close());
    const res = await fetch(`${restarted.url}/v1/whoami`, {
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    t.equal(res.status, 401, 'the revoked bootstrap token stays refused after an API start');
    t.throws(
      () => loadApiConfig({ DATABASE_URL: stack.db.url, OCR_ADMIN_TOKEN: 'x'.repeat(31) }),
      /OCR_ADMIN_TOKEN/,
      'fewer than 32 characters is refused at start',
    );
  },
);

t.test(
  'security headers; request ids validated; X-Forwarded-For ignored unless OCR_TRUST_PROXY',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    const res = await fetch(`${stack.apiUrl}/healthz`);
    const csp = res.headers.get('content-security-policy') ?? '';
    t.match(csp, /default-src 'self'/);
    t.match(csp, /frame-ancestors 'none'/);
    t.ok(res.headers.get('x-frame-options'));
    t.equal(res.headers.get('referrer-policy'), 'no-referrer');
    t.match(res.headers.get('strict-transport-security') ?? '', /max-age=\d+/);
    t.equal(res.headers.get('x-content-type-options'), 'nosniff');
    // The whole set, exactly, on every kind of answer (JSON, an unknown route, the console's HTML, the worker
    // protocol's hot append, a refusal by auth): what @fastify/helmet sent before the middleware was built
    // once (app.ts); a refusal by auth, answered before its hook ran, had none.
    const security = {
      'content-security-policy':
        "default-src 'self';base-uri 'self';font-src 'self' data:;form-action 'self';frame-ancestors 'none';" +
        "img-src 'self' data: blob: https:;object-src 'none';script-src 'self';script-src-attr 'none';" +
        "style-src 'self' 'unsafe-inline';upgrade-insecure-requests;connect-src 'self'",
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'origin-agent-cluster': '?1',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-dns-prefetch-control': 'off',
      'x-download-options': 'noopen',
      'x-frame-options': 'SAMEORIGIN',
      'x-permitted-cross-domain-policies': 'none',
      'x-xss-protection': '0',
    };
    const { token: workerToken } = await stack.tokenFor('worker');
    const answers = [
      ['/healthz', {}],
      ['/v1/runs', { headers: { authorization: `Bearer ${stack.adminToken}` } }],
      ['/v1/runs', {}],
      ['/v1/no-such-route', { headers: { authorization: `Bearer ${stack.adminToken}` } }],
      ['/', {}],
      [
        `/v1/runs/${crypto.randomUUID()}/events`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${workerToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            lease_token: crypto.randomUUID(),
            events: [{ seq: 1, level: 'info', type: 'log', message: 'x' }],
          }),
        },
      ],
    ] as const;
    for (const [path, init] of answers) {
      const answer = await fetch(stack.apiUrl + path, init);
      await answer.arrayBuffer();
      t.same(
        Object.fromEntries(Object.keys(security).map((name) => [name, answer.headers.get(name)])),
        security,
        `${path} (${answer.status}): every security header, exactly`,
      );
      t.equal(answer.headers.get('x-powered-by'), null);
    }

    const build = async (env: Record<string, string>) => {
      const lines: { reqId?: string; req?: { remoteAddress?: string } }[] = [];
      const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
      const app = await buildApp({
        db: stack.db.db,
        pool: stack.db.pool,
        config: loadApiConfig({ DATABASE_URL: stack.db.url, ...env }),
        log,
      });
      t.teardown(() => app.close());
      return { app, lines };
    };
    const plain = await build({});
    await plain.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'trace-abc.123', 'x-forwarded-for': '6.6.6.6' },
    });
    await plain.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': `evil\u001b[31m${'x'.repeat(300)}` },
    });
    const ids = [...new Set(plain.lines.map((l) => l.reqId).filter(Boolean))];
    t.equal(ids[0], 'trace-abc.123', 'a plain request id is kept');
    t.match(ids[1], /^[0-9a-f-]{36}$/, 'anything else is replaced by a fresh UUID');
    t.notOk(
      plain.lines.some((l) => l.req?.remoteAddress === '6.6.6.6'),
      'X-Forwarded-For is not believed by default',
    );
    const proxied = await build({ OCR_TRUST_PROXY: '127.0.0.1' });
    await proxied.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-forwarded-for': '6.6.6.6' },
      remoteAddress: '127.0.0.1',
    });
    t.ok(
      proxied.lines.some((l) => l.req?.remoteAddress === '6.6.6.6'),
      'believed from a configured proxy',
    );
  },
);
