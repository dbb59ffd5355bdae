/** The Spec Kit executors without an API: local-path validation, input checks, typed failures. */
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { generateSpecKit, writeSpecKitDir } from '@ocr/spec-kit';
import { createExecutorRegistry } from '../../src/executors/index.js';
import { createTestStepContext, type Teardown } from '../fixtures/step-context.js';

// Kits in these tests live in a fresh dir under the OS temp dir, the operator's root (OCR_SPEC_KIT_ROOT);
// its own dir, so a checkout under /tmp is still outside it.
const root = await realpath(await mkdtemp(join(tmpdir(), 'ocr-spec-kit-root-')));
t.teardown(() => rm(root, { recursive: true, force: true }));
const registry = createExecutorRegistry({
  specKitGit: { schemes: ['https'], allowPrivate: false, pathRoot: root },
});
const kit = generateSpecKit({ name: 'Local', goals: ['One', 'Two'] });

async function kitDir(t: Teardown, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(root, 'ocr-spec-kit-step-'));
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
    await registry.run(
      { name: 'v', kind: 'spec-kit.validate', input: { path: join(root, 'ocr-no-such-kit') } },
      tc.ctx,
    ),
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

t.test(
  'validate: a path cannot leave the run directory or OCR_SPEC_KIT_ROOT (.., absolute, symlinks)',
  async (t) => {
    // A secret outside the root (a sibling of the root would do; /etc/passwd is outside any temp dir).
    const outside = await mkdtemp(join(process.cwd(), '.ocr-kit-outside-'));
    t.teardown(() => rm(outside, { recursive: true, force: true }));
    await writeSpecKitDir(outside, kit);
    const inside = await kitDir(t, kit);
    const tc = createTestStepContext(t);
    const workdir = tc.ctx.workdir;
    // Links planted where a step could plant them: in the run directory and inside an allowed kit directory.
    await symlink(outside, join(workdir, 'link-out'));
    await symlink('/etc', join(workdir, 'link-etc'));
    await mkdir(join(workdir, 'kit'), { recursive: true });
    await writeSpecKitDir(join(workdir, 'kit'), kit);
    await mkdir(join(workdir, 'mixed'));
    await writeFile(join(workdir, 'mixed', 'prd.md'), kit['prd.md']);
    await symlink(join(outside, 'tasks.md'), join(workdir, 'mixed', 'tasks.md'));
    const refused = [
      '..',
      '../..',
      '../../../../../../etc',
      'kit/../../x',
      './..',
      'kit/../..',
      '..\\..\\etc',
      'a/\u0000/b',
      outside,
      '/etc',
      '/',
      `${root}/../etc`,
      `${inside}/../../etc`,
      'link-out',
      'link-etc',
      'link-out/.',
      'mixed',
    ];
    for (const path of refused) {
      const result = await registry.run({ name: 'v', kind: 'spec-kit.validate', input: { path } }, tc.ctx);
      t.match(result, { status: 'failed', code: 'path_refused' }, `${JSON.stringify(path)} refused`);
    }
    t.equal(tc.artifacts.length, 0, 'nothing outside was read into a report');
    // What is allowed still works: a kit in the run directory, and one under the root by absolute path.
    for (const path of ['kit', './kit', inside, `${inside}/`]) {
      const ok = await registry.run({ name: 'v', kind: 'spec-kit.validate', input: { path } }, tc.ctx);
      t.match(ok, { status: 'success' }, `${path} is read`);
    }
    // With no root configured, absolute paths are refused altogether (only the run directory is readable).
    const rootless = createExecutorRegistry();
    t.match(await rootless.run({ name: 'v', kind: 'spec-kit.validate', input: { path: inside } }, tc.ctx), {
      status: 'failed',
      code: 'path_refused',
      message: /OCR_SPEC_KIT_ROOT/,
    });
    t.match(await rootless.run({ name: 'v', kind: 'spec-kit.validate', input: { path: 'kit' } }, tc.ctx), {
      status: 'success',
    });
  },
);
