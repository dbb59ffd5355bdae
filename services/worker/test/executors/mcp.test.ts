import t from 'tap';
import { createMcpExecutor } from '../../src/executors/mcp.js';
import { procStat } from '../../src/executors/process-group.js';
import { mcpServerCommand, startMcpHttpServer } from '../fixtures/mcp-server.js';
import { createTestStepContext, isLine } from '../fixtures/step-context.js';

const mcp = createMcpExecutor({ allowPrivate: true });
const server = mcpServerCommand();

t.test(
  'stdio: a tool call with rendered arguments; result as event, log lines, JSON artifact and output',
  async (t) => {
    const { ctx, events, artifacts, lines } = createTestStepContext(t, {
      stepName: 'ask',
      params: { who: 'world' },
    });
    const result = await mcp.run(
      {
        name: 'ask',
        kind: 'mcp',
        server,
        tool: 'echo',
        arguments: { text: 'hello {{params.who}}\nsecond line' },
      },
      ctx,
    );
    t.same(result, { status: 'success', output: { length: 'hello world\nsecond line'.length } });
    t.same(lines('result'), ['hello world', 'second line']);
    t.match(
      events.find((e) => e.type === 'mcp.result'),
      { level: 'info', message: 'echo returned: hello world', data: { is_error: false, structured: true } },
    );
    t.equal(artifacts[0]?.name, 'ask.result.json');
    t.match(JSON.parse(String(artifacts[0]!.content)), {
      tool: 'echo',
      result: { content: [{ type: 'text', text: 'hello world\nsecond line' }] },
    });
  },
);

t.test('an error result (isError) fails the step', async (t) => {
  const { ctx, events } = createTestStepContext(t);
  const result = await mcp.run({ name: 'f', kind: 'mcp', server, tool: 'fail' }, ctx);
  t.same(result, {
    status: 'failed',
    code: 'tool_error',
    message: 'fail returned an error: it failed on purpose',
  });
  t.match(
    events.find((e) => e.type === 'mcp.result'),
    { level: 'error', data: { is_error: true } },
  );
});

t.test('an unknown tool and a server that does not start are typed failures', async (t) => {
  const { ctx } = createTestStepContext(t);
  const unknown = await mcp.run({ name: 'u', kind: 'mcp', server, tool: 'nope' }, ctx);
  t.equal(unknown.status, 'failed');
  t.match(unknown, { code: /^(tool_error|mcp_error)$/ });
  const missing = await mcp.run(
    { name: 'm', kind: 'mcp', server: { command: '/nonexistent/mcp-server' }, tool: 'echo' },
    ctx,
  );
  t.match(missing, { status: 'failed', code: 'mcp_connect_failed' });
});

t.test('cancel: the request is cancelled and the session closed; the server process is gone', async (t) => {
  const { ctx, controller, events, waitForEvent } = createTestStepContext(t, { killGraceMs: 500 });
  const running = mcp.run({ name: 's', kind: 'mcp', server, tool: 'slow', arguments: { ms: 60_000 } }, ctx);
  await waitForEvent(isLine('slow started'));
  const pid = Number(events.find((e) => e.type === 'mcp.call')?.data?.pid);
  t.ok(pid > 0, 'the stdio server pid is on the call event');
  const started = Date.now();
  controller.abort();
  const result = await running;
  t.equal(result.status, 'cancelled');
  t.ok(Date.now() - started < 3000, 'stopped within the grace');
  const signalled = events.find((e) => e.type === 'cancel.signalled');
  t.match(signalled, { data: { reason: 'cancelled' } });
  const state = procStat(pid)?.state;
  t.ok(state === undefined || state === 'Z' || state === 'X', 'the server process is gone');
});

t.test('timeout: reported as timeout with a signalled stage', async (t) => {
  const { ctx, events } = createTestStepContext(t, { timeoutMs: 1500, killGraceMs: 300 });
  const result = await mcp.run(
    { name: 's', kind: 'mcp', server, tool: 'slow', arguments: { ms: 60_000 } },
    ctx,
  );
  t.match(result, { status: 'timeout', timeoutMs: 1500 });
  t.match(
    events.find((e) => e.type === 'cancel.signalled'),
    { data: { reason: 'timeout' } },
  );
});

t.test('streamable HTTP: the same tools over HTTP', async (t) => {
  const url = await startMcpHttpServer(t);
  const { ctx, lines } = createTestStepContext(t);
  const result = await mcp.run(
    { name: 'h', kind: 'mcp', server: { url }, tool: 'echo', arguments: { text: 'over http' } },
    ctx,
  );
  t.same(result, { status: 'success', output: { length: 9 } });
  t.same(lines('result'), ['over http']);
  const failed = await mcp.run({ name: 'h', kind: 'mcp', server: { url }, tool: 'fail' }, ctx);
  t.match(failed, { status: 'failed', code: 'tool_error' });
});
