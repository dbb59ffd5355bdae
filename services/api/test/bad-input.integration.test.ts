import t from 'tap';
import { startStack } from '@ocr/testkit';
import { raw, withEchoTemplate } from './helpers.js';

t.test('bad input: a clear 4xx naming the field, and nothing changes', async (t) => {
  const stack = await startStack(t, { s3: false, env: { OCR_BODY_LIMIT_BYTES: '65536' } });
  await withEchoTemplate(stack);
  const count = async () => Number((await stack.db.pool.query('SELECT count(*) FROM runs')).rows[0].count);
  const cases: {
    name: string;
    body: string;
    status: number;
    code: string;
    field?: RegExp;
    headers?: Record<string, string>;
  }[] = [
    { name: 'malformed JSON', body: '{"template": "echo",', status: 400, code: 'validation_failed' },
    {
      name: 'wrong type',
      body: JSON.stringify({ template: 'echo', params: { message: 'x' }, priority: 'high' }),
      status: 400,
      code: 'validation_failed',
      field: /priority/,
    },
    {
      name: 'unknown field',
      body: JSON.stringify({ template: 'echo', params: { message: 'x' }, colour: 'red' }),
      status: 400,
      code: 'validation_failed',
      field: /colour/,
    },
    {
      name: 'missing field',
      body: JSON.stringify({ params: {} }),
      status: 400,
      code: 'validation_failed',
      field: /template/,
    },
    {
      name: 'params against the template schema',
      body: JSON.stringify({ template: 'echo', params: { message: 42 } }),
      status: 400,
      code: 'validation_failed',
      field: /params\.message/,
    },
    {
      name: 'unknown param',
      body: JSON.stringify({ template: 'echo', params: { message: 'x', extra: 1 } }),
      status: 400,
      code: 'validation_failed',
    },
    {
      name: 'bad lane name',
      body: JSON.stringify({ template: 'echo', params: { message: 'x' }, lane: 'A; DROP TABLE runs' }),
      status: 400,
      code: 'validation_failed',
      field: /lane/,
    },
    {
      name: 'unknown template',
      body: JSON.stringify({ template: 'nope' }),
      status: 404,
      code: 'not_found',
      field: /template/,
    },
    {
      name: 'oversized body',
      body: JSON.stringify({ template: 'echo', params: { message: 'x'.repeat(70_000) } }),
      status: 413,
      code: 'payload_too_large',
    },
    {
      name: 'NUL byte in a string',
      body: JSON.stringify({ template: 'echo', params: { message: 'a\u0000b' } }),
      status: 400,
      code: 'validation_failed',
      field: /body\.params\.message/,
    },
    {
      name: 'lone surrogate',
      body: JSON.stringify({ template: 'echo', params: { message: 'x' }, labels: { k: '\ud83d' } }),
      status: 400,
      code: 'validation_failed',
      field: /body\.labels\.k/,
    },
    {
      name: 'not JSON at all',
      body: 'template=echo',
      status: 415,
      code: 'unsupported_media_type',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    },
  ];
  for (const c of cases) {
    const before = await count();
    const res = await raw(stack, 'POST', '/v1/runs', { body: c.body, headers: c.headers });
    t.equal(res.status, c.status, `${c.name}: status`);
    if (c.status >= 400) {
      t.equal(res.json.error.code, c.code, `${c.name}: code`);
      t.type(res.json.error.message, 'string');
      t.notMatch(JSON.stringify(res.json), /at .*\.ts:\d+|node_modules/, `${c.name}: no stack trace`);
      if (c.field) t.match(res.json.error.message, c.field, `${c.name}: names the field`);
      t.equal(await count(), before, `${c.name}: nothing created`);
    }
  }
  const odd = await raw(stack, 'POST', '/v1/runs', {
    body: JSON.stringify({ template: 'echo', params: { message: '🚀 ñ \u202e זה 𝔘' } }),
  });
  t.equal(odd.status, 201, 'odd but valid unicode (emoji, RTL override, astral) is stored as given');
  t.equal(odd.json.run.params.message, '🚀 ñ \u202e זה 𝔘');
});

t.test('bad query strings and path params', async (t) => {
  const stack = await startStack(t, { s3: false });
  for (const [path, field] of [
    ['/v1/runs?limit=1000', /limit/],
    ['/v1/runs?limit=abc', /limit/],
    ['/v1/runs?status=bogus', /status/],
    ['/v1/runs?created_after=yesterday', /created_after/],
    ['/v1/runs?cursor=garbage', /cursor/],
    ['/v1/runs/not-a-uuid', /id/],
    ['/v1/runs/00000000-0000-4000-8000-000000000000/events?level=loud', /level/],
  ] as const) {
    const res = await raw(stack, 'GET', path);
    t.equal(res.status, 400, path);
    t.equal(res.json.error.code, 'validation_failed');
    t.match(res.json.error.message, field, `${path} names the field`);
  }
  const q = await raw(stack, 'GET', `/v1/runs?q=${encodeURIComponent("%' OR 1=1 --")}`);
  t.equal(q.status, 200);
  t.same(q.json.runs, []);
  const missing = await raw(stack, 'GET', '/v1/nope');
  t.equal(missing.status, 404);
  t.equal(missing.json.error.code, 'not_found');
});

t.test(
  'templates: validation names the field; versions; preview masks secrets and quotes shell',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    const bad = await raw(stack, 'POST', '/v1/templates', {
      body: JSON.stringify({ name: 'x', steps: [{ name: 's', kind: 'shell' }] }),
    });
    t.equal(bad.status, 400);
    t.match(bad.json.error.message, /steps/);
    const check = await raw(stack, 'POST', '/v1/templates/validate', {
      body: JSON.stringify({ name: 'x', steps: [{ name: 's', kind: 'teleport' }] }),
    });
    t.equal(check.status, 400, 'an invalid template is a 400, as a save would be');
    t.equal(check.json.error.code, 'validation_failed');
    t.ok(check.json.error.details.length > 0, 'details list the problems');
    t.match(check.json.error.message, /steps/);
    const ok = await raw(stack, 'POST', '/v1/templates/validate', {
      body: JSON.stringify({ name: 'x', steps: [{ name: 's', kind: 'noop' }] }),
    });
    // One problem per mistake: the kind the step names is checked, not every kind of the union.
    const problemsOf = async (steps: unknown[]) =>
      (await raw(stack, 'POST', '/v1/templates/validate', { body: JSON.stringify({ name: 'x', steps }) }))
        .json.error.details;
    t.same(await problemsOf([{ name: 's', kind: 'shell' }]), [
      { field: 'steps[0].script', message: 'is required' },
    ]);
    t.same(await problemsOf([{ name: 't' }]), [
      {
        field: 'steps[0].kind',
        message: 'is required: one of shell, docker, http, mcp, noop, spec-kit.generate, spec-kit.validate',
      },
    ]);
    t.equal(ok.status, 200, 'a valid template is a 200');
    t.same(ok.json, { valid: true, problems: [] });
    // Regression: validate refused a retry backoff giving only initial_s, which a save accepts (defaults).
    const partial = {
      name: 'partial-backoff',
      retry: { backoff: { initial_s: 1 } },
      steps: [{ name: 's', kind: 'noop' }],
    };
    const partialCheck = await raw(stack, 'POST', '/v1/templates/validate', {
      body: JSON.stringify(partial),
    });
    t.equal(partialCheck.status, 200, 'validate fills defaults as a save does');
    const partialSave = await raw(stack, 'POST', '/v1/templates', { body: JSON.stringify(partial) });
    t.equal(partialSave.status, 201, 'and the save agrees');
    t.same(partialSave.json.retry, { max_attempts: 1, backoff: { initial_s: 1, factor: 2, max_s: 60 } });

    // If-Match on PUT: the version the writer read; a stale one is a 409 naming the version there is now.
    const put = (ifMatch: string, description: string) =>
      raw(stack, 'PUT', '/v1/templates/partial-backoff', {
        headers: { 'if-match': ifMatch },
        body: JSON.stringify({ ...partial, description }),
      });
    const fresh = await put('"1"', 'second');
    t.equal(fresh.status, 200, 'the version read is the latest: saved');
    t.equal(fresh.json.version, 2);
    const stale = await put('1', 'lost update');
    t.equal(stale.status, 409, 'a version that is not the latest: refused');
    t.equal(stale.json.error.code, 'conflict');
    t.same(stale.json.error.details, { current_version: 2 });
    t.equal((await put('abc', 'x')).status, 400, 'an If-Match that is not a version');
    await raw(stack, 'DELETE', '/v1/templates/partial-backoff');
    const retired = await put('2', 'after retire');
    t.equal(retired.status, 409, 'a retired template has no version to match');
    t.same(retired.json.error.details, { current_version: null });
    const latest = await raw(stack, 'GET', '/v1/templates');
    t.notOk(
      latest.json.templates.some((x: { name: string }) => x.name === 'partial-backoff'),
      'no refused save was stored',
    );
    const dup = await raw(stack, 'POST', '/v1/templates', {
      body: JSON.stringify({
        name: 'd',
        steps: [
          { name: 's', kind: 'noop' },
          { name: 's', kind: 'noop' },
        ],
      }),
    });
    t.equal(dup.status, 400);
    t.match(dup.json.error.message, /steps\[1\]\.name/);
    const schema = await raw(stack, 'POST', '/v1/templates', {
      body: JSON.stringify({
        name: 'bad-schema',
        params_schema: { type: 'nonsense' },
        steps: [{ name: 's', kind: 'noop' }],
      }),
    });
    t.equal(schema.status, 400);
    t.match(schema.json.error.message, /params_schema/);
    const v1 = await stack.client.templates.create({
      name: 'deploy',
      params_schema: {
        type: 'object',
        properties: { env: { type: 'string' }, api_token: { type: 'string' } },
      },
      steps: [{ name: 'go', kind: 'shell', script: 'deploy {{params.env}} --token {{params.api_token}}' }],
    });
    t.equal(v1.version, 1);
    const v2 = await stack.client.templates.put({
      ...{ name: 'deploy', steps: [{ name: 'go', kind: 'noop' as const }] },
    });
    t.equal(v2.version, 2);
    await stack.client.templates.put({
      name: 'deploy',
      params_schema: {
        type: 'object',
        properties: { env: { type: 'string' }, api_token: { type: 'string' } },
      },
      steps: [{ name: 'go', kind: 'shell', script: 'deploy {{params.env}} --token {{params.api_token}}' }],
    });
    const preview = await stack.client.templates.preview('deploy', {
      env: "prod'; rm -rf /",
      api_token: 'hunter2',
    });
    // What the worker will run: the script refers to the params' variables, it never holds their values.
    t.equal(
      (preview.steps[0] as { script: string }).script,
      'deploy "${OCR_PARAM_ENV}" --token "${OCR_PARAM_API_TOKEN}"',
    );
    t.equal(preview.params.env, "prod'; rm -rf /");
    t.notOk(JSON.stringify(preview).includes('hunter2'), 'secret masked');
    await stack.client.templates.put({
      name: 'deploy',
      params_schema: { type: 'object', properties: { env: { type: 'string' }, region: { type: 'string' } } },
      steps: [
        {
          name: 'ping',
          kind: 'http',
          url: 'https://status.example.com/{{params.env}}',
          headers: { 'x-env': '{{params.env}}' },
          body: { env: '{{params.env}}' },
        },
        { name: 'where', kind: 'shell', script: 'echo {{params.region}}' },
      ],
    });
    const http = await stack.client.templates.preview('deploy', { env: 'a b/c', region: 'eu' });
    t.match(
      http.steps[0],
      { url: 'https://status.example.com/a%20b%2Fc', headers: { 'x-env': 'a b/c' }, body: { env: 'a b/c' } },
      'each field as the http executor renders it',
    );
    const missing = await raw(stack, 'POST', '/v1/templates/deploy/preview', {
      body: JSON.stringify({ params: { env: 'prod' } }),
    });
    t.equal(
      missing.status,
      400,
      'a placeholder without its param is refused, as the worker would fail the step',
    );
    t.match(missing.json.error, {
      code: 'validation_failed',
      message: /^steps\.1: .*params\.region/,
      details: [{ field: 'steps.1', reason: 'param_missing' }],
    });
    await t.rejects(stack.client.templates.create({ name: 'deploy', steps: [{ name: 'x', kind: 'noop' }] }), {
      code: 'conflict',
    });
  },
);
