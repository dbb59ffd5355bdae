/**
 * One conformance suite, run against every built-in kind through the registry: each kind succeeds, fails,
 * times out and is cancelled (with its stage events) with the same semantics, and its output arrives in
 * order and complete. Real processes, a real Docker engine, a real HTTP server and a real MCP server.
 */
import t from 'tap';
import { createExecutorRegistry, type StepContext, type StepEvent } from '../../src/executors/index.js';
import { ensureTestImage, TEST_IMAGE } from '@ocr/testkit/docker-image';
import { startTestHttpServer } from '../fixtures/http-server.js';
import { mcpServerCommand } from '../fixtures/mcp-server.js';
import {
  createTestStepContext,
  isLine,
  type Teardown,
  type TestStepContext,
} from '../fixtures/step-context.js';

const docker = await ensureTestImage();
const registry = createExecutorRegistry({
  docker: { docker },
  http: { stepsMayAllowPrivate: true },
  mcp: { allowPrivate: true },
});
const LINES = 200;
const expectedLines = Array.from({ length: LINES }, (_, i) => `line ${i + 1}`);
const printLines = `i=1; while [ $i -le ${LINES} ]; do echo "line $i"; i=$((i+1)); done`;

/** How one kind is exercised. `slow` returns a step that blocks and a promise that it has started. */
interface KindCase {
  kind: string;
  /** The stream its output arrives on. */
  stream: string;
  /** Time to allow for the step to start (container, server process). */
  timeoutMs: number;
  succeed(t: Teardown): Promise<Record<string, unknown>>;
  fail(t: Teardown): Promise<{ step: Record<string, unknown>; code: string }>;
  slow(
    t: Teardown,
    tc: TestStepContext,
  ): Promise<{ step: Record<string, unknown>; started: Promise<unknown> }>;
}

const mcpServer = mcpServerCommand();

const cases: KindCase[] = [
  {
    kind: 'shell',
    stream: 'stdout',
    timeoutMs: 500,
    succeed: async () => ({ name: 'c', kind: 'shell', script: printLines }),
    fail: async () => ({
      step: { name: 'c', kind: 'shell', script: 'echo failing; exit 3' },
      code: 'exit_code',
    }),
    slow: async (_t, tc) => ({
      step: { name: 'c', kind: 'shell', script: 'echo ready; sleep 30' },
      started: tc.waitForEvent(isLine('ready')),
    }),
  },
  {
    kind: 'docker',
    stream: 'stdout',
    timeoutMs: 2500,
    succeed: async () => ({
      name: 'c',
      kind: 'docker',
      image: TEST_IMAGE,
      command: ['sh', '-c', printLines],
    }),
    fail: async () => ({
      step: { name: 'c', kind: 'docker', image: TEST_IMAGE, command: ['sh', '-c', 'exit 3'] },
      code: 'exit_code',
    }),
    slow: async (_t, tc) => ({
      step: { name: 'c', kind: 'docker', image: TEST_IMAGE, command: ['sh', '-c', 'echo ready; sleep 30'] },
      started: tc.waitForEvent(isLine('ready')),
    }),
  },
  {
    kind: 'http',
    stream: 'body',
    timeoutMs: 500,
    succeed: async (t) => ({
      name: 'c',
      kind: 'http',
      url: `${(await startTestHttpServer(t)).url}/lines?n=${LINES}`,
      allow_private: true,
    }),
    fail: async (t) => ({
      step: {
        name: 'c',
        kind: 'http',
        url: `${(await startTestHttpServer(t)).url}/status/503`,
        allow_private: true,
      },
      code: 'unexpected_status',
    }),
    slow: async (t) => {
      const server = await startTestHttpServer(t);
      return {
        step: { name: 'c', kind: 'http', url: `${server.url}/slow`, allow_private: true },
        started: server.slowRequested(),
      };
    },
  },
  {
    kind: 'mcp',
    stream: 'result',
    timeoutMs: 4000,
    succeed: async () => ({
      name: 'c',
      kind: 'mcp',
      server: mcpServer,
      tool: 'echo',
      arguments: { text: expectedLines.join('\n') },
    }),
    fail: async () => ({
      step: { name: 'c', kind: 'mcp', server: mcpServer, tool: 'fail' },
      code: 'tool_error',
    }),
    slow: async (_t, tc) => ({
      step: { name: 'c', kind: 'mcp', server: mcpServer, tool: 'slow', arguments: { ms: 30_000 } },
      started: tc.waitForEvent(isLine('slow started')),
    }),
  },
];

// noop is covered below; the Spec Kit kinds start no process and stream no output, and have their own
// suite (test/executors/spec-kit.test.ts and the spec-kit integration test).
const OWN_SUITES = new Set(['noop', 'spec-kit.generate', 'spec-kit.validate']);

t.test('every built-in kind is covered by this suite (noop below)', async (t) => {
  t.same(registry.kinds.filter((k) => !OWN_SUITES.has(k)).sort(), cases.map((c) => c.kind).sort());
});

const GRACE = 300;
const stages = (events: StepEvent[]) => events.filter((e) => e.type.startsWith('cancel.'));

for (const c of cases) {
  t.test(`${c.kind}: conformance`, async (t) => {
    const context = (overrides: Partial<StepContext> = {}) =>
      createTestStepContext(t, { killGraceMs: GRACE, ...overrides });

    t.test('succeeds, with its output in order and complete', async (t) => {
      const tc = context();
      const result = await registry.run(await c.succeed(t), tc.ctx);
      t.equal(result.status, 'success', JSON.stringify(result));
      t.same(tc.lines(c.stream), expectedLines);
      t.same(stages(tc.events), [], 'no stop stages');
    });

    t.test('fails with a typed reason', async (t) => {
      const tc = context();
      const { step, code } = await c.fail(t);
      const result = await registry.run(step, tc.ctx);
      t.match(result, { status: 'failed', code, message: /\S/ });
    });

    t.test('times out: stopped, reported as timeout, with a signalled stage', async (t) => {
      const tc = context({ timeoutMs: c.timeoutMs });
      const { step } = await c.slow(t, tc);
      const started = Date.now();
      const result = await registry.run(step, tc.ctx);
      const took = Date.now() - started;
      t.match(result, { status: 'timeout', timeoutMs: c.timeoutMs });
      t.ok(took >= c.timeoutMs - 10 && took < c.timeoutMs + GRACE + 3000, `ended ${took} ms after the start`);
      t.match(stages(tc.events)[0], { type: 'cancel.signalled', data: { reason: 'timeout' } });
    });

    t.test('is cancelled: stopped within the grace, stage events in order', async (t) => {
      const tc = context();
      const { step, started } = await c.slow(t, tc);
      const running = registry.run(step, tc.ctx);
      await started;
      const at = Date.now();
      tc.controller.abort();
      const result = await running;
      const took = Date.now() - at;
      t.equal(result.status, 'cancelled');
      t.ok(took < GRACE + 3000, `stopped ${took} ms after the cancel`);
      const seen = stages(tc.events).map((e) => e.type);
      t.ok(seen.length >= 1 && seen[0] === 'cancel.signalled', `stages: ${seen.join(', ')}`);
      t.ok(
        seen.slice(1).every((s) => s === 'cancel.killed'),
        'anything after signalled is the kill',
      );
      t.match(stages(tc.events)[0], { level: 'warn', data: { reason: 'cancelled', grace_ms: GRACE } });
    });

    t.test('a run already cancelled starts nothing', async (t) => {
      const tc = context();
      tc.controller.abort();
      const result = await registry.run(await c.succeed(t), tc.ctx);
      t.equal(result.status, 'cancelled');
      t.same(tc.events, [], 'no events: nothing ran');
    });

    t.test('a malformed step is refused with the field named', async (t) => {
      const tc = context();
      const result = await registry.run({ ...(await c.succeed(t)), bogus: 1 }, tc.ctx);
      t.match(result, { status: 'failed', code: 'invalid_step', message: /bogus: unknown field/ });
    });
  });
}

t.test('noop: succeeds at once, honours a cancelled run; unknown kinds fail cleanly', async (t) => {
  const tc = createTestStepContext(t);
  t.same(await registry.run({ name: 'n', kind: 'noop' }, tc.ctx), { status: 'success' });
  t.match(await registry.run({ name: 'n', kind: 'teleport' }, tc.ctx), {
    status: 'failed',
    code: 'unknown_step_kind',
    message: /teleport/,
  });
  tc.controller.abort();
  t.equal((await registry.run({ name: 'n', kind: 'noop' }, tc.ctx)).status, 'cancelled');
});

t.test('register adds a kind', async (t) => {
  const tc = createTestStepContext(t);
  const custom = createExecutorRegistry({ docker: { docker } }).register('spec-kit.validate', {
    kind: 'spec-kit.validate',
    run: async () => ({ status: 'success', output: { valid: true } }),
  });
  t.ok(custom.has('spec-kit.validate'));
  t.same(await custom.run({ name: 'v', kind: 'spec-kit.validate' }, tc.ctx), {
    status: 'success',
    output: { valid: true },
  });
});
