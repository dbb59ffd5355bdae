import { createServer } from 'node:net';
import { once } from 'node:events';
import t from 'tap';
import { createHttpExecutor } from '../../src/executors/http.js';
import { hostAllowed, isNonPublicAddress } from '../../src/executors/http-guard.js';
import { startTestHttpServer } from '../fixtures/http-server.js';
import { createTestStepContext } from '../fixtures/step-context.js';

const http = createHttpExecutor({ stepsMayAllowPrivate: true });

t.test('address classification', async (t) => {
  for (const a of [
    '127.0.0.1',
    '10.1.2.3',
    '172.20.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fd00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '224.0.0.1',
    'not-an-ip',
  ])
    t.ok(isNonPublicAddress(a), `${a} is not public`);
  for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
    t.notOk(isNonPublicAddress(a), `${a} is public`);
  t.ok(hostAllowed('api.example.com', ['*.example.com']));
  t.notOk(hostAllowed('example.com', ['*.example.com']));
  t.notOk(hostAllowed('evilexample.com', ['*.example.com']));
  t.ok(hostAllowed('Example.COM.', ['example.com']));
});

t.test('GET: the response as an event, body lines, a JSON artifact and the output', async (t) => {
  const server = await startTestHttpServer(t);
  const { ctx, events, artifacts, lines } = createTestStepContext(t, { stepName: 'ping' });
  const result = await http.run(
    { name: 'ping', kind: 'http', url: `${server.url}/json`, allow_private: true },
    ctx,
  );
  t.same(result, { status: 'success', output: { status: 200, body: { ok: true, items: [1, 2, 3] } } });
  t.same(
    events.map((e) => e.type),
    ['http.request', 'log', 'http.response'],
  );
  t.same(lines('body'), ['{"ok":true,"items":[1,2,3]}']);
  t.equal(artifacts.length, 1);
  t.equal(artifacts[0]!.name, 'ping.response.json');
  const record = JSON.parse(String(artifacts[0]!.content));
  t.equal(record.response.status, 200);
  t.same(record.response.body, { ok: true, items: [1, 2, 3] });
});

t.test('method, headers and a JSON body with params; URL placeholders percent-encoded', async (t) => {
  const server = await startTestHttpServer(t);
  const { ctx, artifacts } = createTestStepContext(t, {
    params: { env: 'prod/../x?y', count: 3, token: 's3cret' },
  });
  const result = await http.run(
    {
      name: 'post',
      kind: 'http',
      method: 'POST',
      url: `${server.url}/echo/{{params.env}}`,
      headers: { Authorization: 'Bearer {{params.token}}', 'X-Env': '{{params.env}}' },
      body: { env: '{{params.env}}', count: '{{params.count}}' },
      allow_private: true,
    },
    ctx,
  );
  t.equal(result.status, 'success');
  const echoed = (
    result as {
      output: { body: { method: string; path: string; headers: Record<string, string>; body: string } };
    }
  ).output.body;
  t.equal(echoed.method, 'POST');
  t.equal(echoed.path, '/echo/prod%2F..%2Fx%3Fy', 'the value stays one path segment');
  t.equal(echoed.headers['x-env'], 'prod/../x?y');
  t.equal(echoed.headers['content-type'], 'application/json');
  t.same(JSON.parse(echoed.body), { env: 'prod/../x?y', count: 3 });
  t.equal(
    JSON.parse(String(artifacts[0]!.content)).request.headers.authorization,
    '[redacted]',
    'the Authorization header is redacted in the artifact',
  );
});

t.test('a header value with a line break is refused', async (t) => {
  const server = await startTestHttpServer(t);
  const { ctx } = createTestStepContext(t, { params: { v: 'a\r\nX-Injected: 1' } });
  const result = await http.run(
    {
      name: 'h',
      kind: 'http',
      url: `${server.url}/json`,
      headers: { 'X-V': '{{params.v}}' },
      allow_private: true,
    },
    ctx,
  );
  t.match(result, { status: 'failed', code: 'invalid_header' });
});

t.test('unexpected statuses fail; expect_status decides', async (t) => {
  const server = await startTestHttpServer(t);
  const { ctx } = createTestStepContext(t);
  t.match(
    await http.run({ name: 'h', kind: 'http', url: `${server.url}/status/500`, allow_private: true }, ctx),
    { status: 'failed', code: 'unexpected_status', message: /HTTP 500/ },
  );
  t.match(
    await http.run(
      { name: 'h', kind: 'http', url: `${server.url}/status/404`, expect_status: [404], allow_private: true },
      ctx,
    ),
    { status: 'success', output: { status: 404 } },
  );
  t.match(
    await http.run(
      { name: 'h', kind: 'http', url: `${server.url}/json`, expect_status: [201], allow_private: true },
      ctx,
    ),
    { status: 'failed', code: 'unexpected_status' },
  );
});

t.test(
  'redirects are followed by hand (303 turns POST into GET), each hop recorded; at most 5',
  async (t) => {
    const server = await startTestHttpServer(t);
    const { ctx, events } = createTestStepContext(t);
    const result = await http.run(
      {
        name: 'r',
        kind: 'http',
        method: 'POST',
        body: 'x',
        url: `${server.url}/redirect?status=303&to=/echo`,
        allow_private: true,
      },
      ctx,
    );
    t.match(result, { status: 'success', output: { body: { method: 'GET', body: '' } } });
    t.equal(events.filter((e) => e.type === 'http.redirect').length, 1);
    const loop = await http.run(
      { name: 'r', kind: 'http', url: `${server.url}/loop`, allow_private: true },
      ctx,
    );
    t.match(loop, { status: 'failed', code: 'too_many_redirects' });
    const notFollowed = await http.run(
      {
        name: 'r',
        kind: 'http',
        url: `${server.url}/redirect?to=/json`,
        follow_redirects: false,
        expect_status: [302],
        allow_private: true,
      },
      ctx,
    );
    t.match(notFollowed, { status: 'success', output: { status: 302 } });
  },
);

t.test('SSRF: private, loopback and link-local addresses refused unless allowed', async (t) => {
  const server = await startTestHttpServer(t);
  const { ctx } = createTestStepContext(t);
  for (const url of [
    `${server.url}/json`,
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.1/',
    `http://[::1]:${server.port}/json`,
    `http://[::ffff:127.0.0.1]:${server.port}/json`,
  ]) {
    const result = await http.run({ name: 'h', kind: 'http', url }, ctx);
    t.match(result, { status: 'failed', code: 'address_refused' }, url);
  }
});

t.test(
  'SSRF: a name resolving to loopback is refused at connect time (nothing reaches the server)',
  async (t) => {
    let connections = 0;
    const probe = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    t.teardown(() => probe.close());
    const port = (probe.address() as { port: number }).port;
    const { ctx } = createTestStepContext(t);
    const result = await http.run({ name: 'h', kind: 'http', url: `http://localhost:${port}/` }, ctx);
    t.match(result, { status: 'failed', code: 'address_refused', message: /localhost/ });
    t.equal(connections, 0, 'no connection was made');
    const locked = createHttpExecutor({ stepsMayAllowPrivate: false });
    t.match(
      await locked.run(
        { name: 'h', kind: 'http', url: `http://localhost:${port}/`, allow_private: true },
        ctx,
      ),
      { status: 'failed', code: 'address_refused' },
      'a fleet-wide lock beats the step',
    );
  },
);

t.test('SSRF: allow_hosts is checked on every redirect hop', async (t) => {
  const server = await startTestHttpServer(t);
  const { ctx, events } = createTestStepContext(t);
  const result = await http.run(
    {
      name: 'h',
      kind: 'http',
      url: `${server.url}/redirect?to=${encodeURIComponent(`http://localhost:${server.port}/json`)}`,
      allow_hosts: ['127.0.0.1'],
      allow_private: true,
    },
    ctx,
  );
  t.match(result, { status: 'failed', code: 'host_not_allowed', message: /localhost/ });
  t.equal(events.filter((e) => e.type === 'http.request').length, 1, 'the second hop never went out');
  t.match(await http.run({ name: 'h', kind: 'http', url: 'file:///etc/passwd' }, ctx), {
    status: 'failed',
    code: 'scheme_refused',
  });
});

t.test('a huge body is cut at the limit, not read on', async (t) => {
  const server = await startTestHttpServer(t);
  const { ctx, events } = createTestStepContext(t);
  const result = await createHttpExecutor({ maxBodyBytes: 64 * 1024, stepsMayAllowPrivate: true }).run(
    { name: 'h', kind: 'http', url: `${server.url}/big?mb=64`, allow_private: true },
    ctx,
  );
  t.equal(result.status, 'success');
  t.match(
    events.find((e) => e.type === 'http.response'),
    { data: { body_bytes: 64 * 1024, body_truncated: true } },
  );
});
