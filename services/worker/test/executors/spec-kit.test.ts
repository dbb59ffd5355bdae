/** The Spec Kit executors without an API: local-path validation, input checks, typed failures. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { generateSpecKit, writeSpecKitDir } from '@ocr/spec-kit';
import { createExecutorRegistry } from '../../src/executors/index.js';
import { createTestStepContext, type Teardown } from '../fixtures/step-context.js';

const registry = createExecutorRegistry();
const kit = generateSpecKit({ name: 'Local', goals: ['One', 'Two'] });

async function kitDir(t: Teardown, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ocr-spec-kit-step-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeSpecKitDir(dir, files);
  return dir;
}

t.test('validate: a valid kit at a path succeeds and declares the JSON and markdown reports', async (t) => {
  const tc = createTestStepContext(t, { params: { path: await kitDir(t, kit) } });
  const result = await registry.run({ name: 'v', kind: 'spec-kit.validate' }, tc.ctx);
  t.match(result, { status: 'success', output: { valid: true, summary: { requirements: 2, errors: 0 } } });
  t.same(
    tc.artifacts.map((a) => [a.name, a.kind]),
    [
      ['spec-kit-report.json', 'json'],
      ['spec-kit-report.md', 'markdown'],
    ],
  );
  t.match(JSON.parse(String(tc.artifacts[0]!.content)), { valid: true, problems: [] });
  t.match(tc.events.at(-1), { type: 'spec-kit.report', level: 'info', data: { valid: true } });
});

t.test('validate: an invalid kit fails with spec_kit_invalid and one error event per problem', async (t) => {
  const broken = { ...kit, 'tasks.md': kit['tasks.md'].replace(/T\d+\.\d+ /g, '') };
  const tc = createTestStepContext(t);
  const result = await registry.run(
    { name: 'v', kind: 'spec-kit.validate', input: { path: await kitDir(t, broken) } },
    tc.ctx,
  );
  t.match(result, {
    status: 'failed',
    code: 'spec_kit_invalid',
    message: /problems; first: tasks\.md:\d+: error task_without_id/,
  });
  const problems = tc.events.filter((e) => e.type === 'spec-kit.problem');
  t.ok(problems.length >= 3);
  t.ok(problems.every((e) => e.level === 'error' && /^(tasks|prd)\.md:\d+: /.test(e.message)));
  t.match(JSON.parse(String(tc.artifacts[0]!.content)), {
    valid: false,
    problems: [{ code: 'task_without_id', file: 'tasks.md' }],
  });
});

t.test('validate: exactly one source, well-formed; a missing directory is input_unavailable', async (t) => {
  const tc = createTestStepContext(t, { params: { path: '/tmp', project: 'x' } });
  t.match(await registry.run({ name: 'v', kind: 'spec-kit.validate' }, tc.ctx), {
    status: 'failed',
    code: 'invalid_input',
    message: /exactly one of .*got project, path/,
  });
  t.match(await registry.run({ name: 'v', kind: 'spec-kit.validate', input: {} }, tc.ctx), {
    status: 'failed',
    code: 'invalid_input',
    message: /got none/,
  });
  t.match(
    await registry.run(
      { name: 'v', kind: 'spec-kit.validate', input: { git_url: '--upload-pack=touch /tmp/x' } },
      tc.ctx,
    ),
    { status: 'failed', code: 'invalid_input' },
  );
  t.match(
    await registry.run({ name: 'v', kind: 'spec-kit.validate', input: { path: '/nonexistent/kit' } }, tc.ctx),
    { status: 'failed', code: 'input_unavailable', message: /no such directory/ },
  );
});

t.test('validate: reading an artifact or spec_docs needs the API', async (t) => {
  const tc = createTestStepContext(t);
  t.match(await registry.run({ name: 'v', kind: 'spec-kit.validate', input: { project: 'p' } }, tc.ctx), {
    status: 'failed',
    code: 'input_unavailable',
  });
});

t.test('generate: input is checked before anything is written; it needs the API to store', async (t) => {
  const tc = createTestStepContext(t, { params: { goals: ['x'] } });
  t.match(await registry.run({ name: 'g', kind: 'spec-kit.generate' }, tc.ctx), {
    status: 'failed',
    code: 'invalid_input',
    message: /name: is required/,
  });
  t.match(
    await registry.run(
      { name: 'g', kind: 'spec-kit.generate', input: { name: 'P', goals: '{{params.goals}}' } },
      tc.ctx,
    ),
    { status: 'failed', code: 'api_unavailable' },
  );
  t.same(tc.artifacts, []);
});

t.test('both kinds: a malformed step names the field; a cancelled run starts nothing', async (t) => {
  const tc = createTestStepContext(t);
  t.match(await registry.run({ name: 'g', kind: 'spec-kit.generate', bogus: 1 }, tc.ctx), {
    status: 'failed',
    code: 'invalid_step',
    message: /bogus: unknown field/,
  });
  tc.controller.abort();
  t.match(await registry.run({ name: 'v', kind: 'spec-kit.validate', input: { path: '/tmp' } }, tc.ctx), {
    status: 'cancelled',
  });
  t.same(tc.events, []);
});
