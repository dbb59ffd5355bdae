/**
 * SSRF cases of issue 15: every IPv6 spelling of a private IPv4 is refused; a step's `allow_private` is
 * ignored unless the worker allows it; a cross-origin redirect carries only safelisted headers and the
 * response artifact records no credential; MCP over HTTP goes through the same guard; URL placeholders
 * cannot climb path segments.
 */
import t from 'tap';
import { createHttpExecutor, isNonPublicAddress } from '../../src/executors/index.js';
import { createMcpExecutor } from '../../src/executors/mcp.js';
import { startTestHttpServer } from '../fixtures/http-server.js';
import { createTestStepContext } from '../fixtures/step-context.js';

t.test('IPv6 forms of private IPv4 addresses are private', async (t) => {
  for (const address of [
    '::127.0.0.1',
    '::7f00:1',
    '[::127.0.0.1]',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:0:127.0.0.1',
    '::ffff:0:a9fe:a9fe',
    '64:ff9b::169.254.169.254',
    '64:ff9b::a9fe:a9fe',
    '2002:7f00:1::1',
    '2002:a9fe:a9fe::',
    '2001:0:4136:e378:8000:63bf:f5ff:fffe', // Teredo, client 10.0.0.1 (obfuscated)
    '::a00:1',
    '::',
    '::1',
    'fe80::1',
    'fc00::1',
  ]) {
    t.ok(isNonPublicAddress(address), address);
  }
  for (const address of ['2606:4700:4700::1111', '8.8.8.8', '::ffff:8.8.8.8', '2002:0808:0808::1'])
    t.notOk(isNonPublicAddress(address), `${address} is public`);
});

t.test('a literal [::127.0.0.1] URL is refused before any connection', async (t) => {
  const { ctx } = createTestStepContext(t);
  const server = await startTestHttpServer(t);
  for (const url of [
    `http://[::127.0.0.1]:${server.port}/json`,
    `http://[::ffff:127.0.0.1]:${server.port}/json`,
    `http://[::ffff:0:7f00:1]:${server.port}/json`,
  ]) {
    t.match(
      await createHttpExecutor().run({ name: 'h', kind: 'http', url }, ctx),
      { status: 'failed', code: 'address_refused' },
      url,
    );
  }
});

t.test("a step's allow_private is honoured only when the worker allows it", async (t) => {
  const server = await startTestHttpServer(t);
  const { ctx } = createTestStepContext(t);
  const step = { name: 'h', kind: 'http', url: `${server.url}/json`, allow_private: true };
  t.match(
    await createHttpExecutor().run(step, ctx),
    { status: 'failed', code: 'address_refused' },
    'off by default',
  );
  t.match(
    await createHttpExecutor({ stepsMayAllowPrivate: true }).run(step, ctx),
    { status: 'success' },
    'on when the worker says so',
  );
});

t.test(
  'a cross-origin redirect drops every header outside the safelist; the artifact records no credential',
  async (t) => {
    const a = await startTestHttpServer(t);
    const b = await startTestHttpServer(t);
    const tc = createTestStepContext(t, { params: { token: 's3cr3t-token-value' } });
    const result = await createHttpExecutor({ allowPrivate: true }).run(
      {
        name: 'r',
        kind: 'http',
        url: `${a.url}/redirect?to=${encodeURIComponent(`${b.url}/echo`)}`,
        headers: {
          'x-api-token': '{{params.token}}',
          'private-token': 'fixed-secret',
          accept: 'application/json',
          'user-agent': 'ocr-test',
        },
      },
      tc.ctx,
    );
    t.equal(result.status, 'success');
    const echoed = (result as { output: { body: { headers: Record<string, string> } } }).output.body.headers;
    t.equal(echoed['x-api-token'], undefined, 'custom credential header dropped');
    t.equal(echoed['private-token'], undefined);
    t.equal(echoed.accept, 'application/json', 'safelisted header kept');
    t.equal(echoed['user-agent'], 'ocr-test');
    const artifact = String(tc.artifacts[0]?.content);
    t.notMatch(artifact, /s3cr3t-token-value|fixed-secret/, 'the response artifact has no credential');
    const same = createTestStepContext(t);
    await createHttpExecutor({ allowPrivate: true }).run(
      {
        name: 's',
        kind: 'http',
        url: `${a.url}/echo`,
        headers: { 'x-api-token': 'another-secret', accept: 'text/plain' },
      },
      same.ctx,
    );
    const recorded = JSON.parse(String(same.artifacts[0]?.content)) as {
      request: { headers: Record<string, string> };
    };
    t.same(
      recorded.request.headers,
      { 'x-api-token': '[redacted]', accept: 'text/plain' },
      'only safelisted request headers are recorded in clear',
    );
  },
);

t.test('MCP over HTTP goes through the same guard', async (t) => {
  const { ctx } = createTestStepContext(t);
  for (const url of [
    'http://127.0.0.1:9/mcp',
    'http://[::127.0.0.1]:9/mcp',
    'http://169.254.169.254/mcp',
    'http://localhost:9/mcp',
  ]) {
    t.match(
      await createMcpExecutor().run({ name: 'm', kind: 'mcp', server: { url }, tool: 'x' }, ctx),
      { status: 'failed', code: /address_refused|mcp_connect_failed/ },
      url,
    );
  }
});

t.test('URL placeholders cannot climb segments', async (t) => {
  const server = await startTestHttpServer(t);
  for (const p of ['..', '.', '%2e%2e', '%2E.']) {
    const { ctx } = createTestStepContext(t, { params: { p } });
    t.match(
      await createHttpExecutor({ allowPrivate: true }).run(
        { name: 'h', kind: 'http', url: `${server.url}/echo/{{params.p}}/x` },
        ctx,
      ),
      { status: p.includes('%') ? 'success' : 'failed' },
      p,
    );
  }
  const { ctx } = createTestStepContext(t, { params: { p: '../../admin?x=1#' } });
  const ok = await createHttpExecutor({ allowPrivate: true }).run(
    { name: 'h', kind: 'http', url: `${server.url}/echo/{{params.p}}` },
    ctx,
  );
  t.match(
    ok,
    { status: 'success', output: { body: { path: '/echo/..%2F..%2Fadmin%3Fx%3D1%23' } } },
    'slashes, ? and # are encoded',
  );
});

t.test('Spec Kit git_url: https only by default, and never a private address', async (t) => {
  const { createSpecKitValidateExecutor } = await import('../../src/executors/spec-kit.js');
  const validate = createSpecKitValidateExecutor();
  for (const [gitUrl, code] of [
    ['file:///etc', 'scheme_refused'],
    ['http://example.com/repo.git', 'scheme_refused'],
    ['ssh://git@example.com/repo.git', 'scheme_refused'],
    ['https://127.0.0.1/repo.git', 'address_refused'],
    ['https://[::127.0.0.1]/repo.git', 'address_refused'],
    ['https://169.254.169.254/repo.git', 'address_refused'],
    ['https://localhost/repo.git', 'address_refused'],
    ['https://user:pw@example.com/repo.git', 'credentials_in_url'],
  ] as const) {
    const { ctx } = createTestStepContext(t);
    t.match(
      await validate.run({ name: 'v', kind: 'spec-kit.validate', input: { git_url: gitUrl } }, ctx),
      { status: 'failed', code },
      gitUrl,
    );
  }
});

t.test(
  'a declared artifact that is a symlink out of the run directory (or not a file) is refused',
  async (t) => {
    const { runStep } = await import('../../src/step-runner.js');
    const { createExecutorRegistry } = await import('../../src/executors/index.js');
    const tc = createTestStepContext(t);
    const step = {
      name: 's',
      kind: 'shell',
      script:
        'mkdir -p out; ln -s /etc/hostname out/leak.txt; ln -s /etc out/dir; mkfifo out/fifo; echo ok > out/fine.txt; ln -s fine.txt out/alias.txt',
      artifacts: [
        { path: 'out/leak.txt', kind: 'text' },
        { path: 'out/dir/passwd', kind: 'text' },
        { path: 'out/fifo', kind: 'text' },
        { path: '../outside.txt', kind: 'text' },
        { path: 'out/fine.txt', kind: 'text' },
        { path: 'out/alias.txt', kind: 'text', name: 'alias' },
      ],
    };
    const result = await runStep(createExecutorRegistry(), step, tc.ctx);
    t.equal(result.status, 'success');
    t.same(
      tc.artifacts.map((a) => a.name),
      ['out/fine.txt', 'alias'],
      'only the files inside the run directory (a symlink inside it is fine)',
    );
    const failed = tc.events.filter((e) => e.type === 'artifact.failed').map((e) => e.message);
    t.match(failed, [
      /leak\.txt is a symlink to somewhere outside/,
      /dir\/passwd is a symlink to somewhere outside/,
      /fifo is not a regular file/,
      /outside the run directory/,
    ]);
  },
);
