/**
 * `ocr templates apply|export|list|get` and `ocr runs list|get|cancel|retry` as CI and operators run them:
 * the real binary against a real API over Postgres, real files in a temporary directory.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { isApiError, type Template } from '@ocr/client';
import { startStack, type Stack } from '@ocr/testkit';
import { applyPlan, planApply } from '../src/templates-as-code/plan.js';
import { envFor, ocr, tempDir, writeTemplates } from './cli-helpers.js';

/** Four templates as people write them: nested directories, YAML and JSON, defaults left out or partly given. */
const TEMPLATES: Record<string, Record<string, unknown>> = {
  'ops/deploy-check.yaml': {
    name: 'deploy-check',
    description: 'Check a deployment',
    params_schema: {
      type: 'object',
      properties: { env: { type: 'string', enum: ['staging', 'prod'] }, verbose: { type: 'boolean' } },
      required: ['env'],
    },
    default_lane: 'B',
    timeout_s: 600,
    retry: { max_attempts: 3, backoff: { initial_s: 1 } },
    steps: [
      { name: 'greet', kind: 'shell', script: 'echo "checking $OCR_PARAM_ENV"', env: { LOG_FORMAT: 'json' } },
      {
        name: 'summary',
        kind: 'shell',
        script: 'mkdir -p out\nprintf \'{"env": "%s"}\\n\' "$OCR_PARAM_ENV" > out/status.json\n',
        artifacts: [{ path: 'out/status.json', kind: 'json' }],
        timeout_s: 30,
      },
    ],
  },
  'ops/nested/noop.yml': { name: 'noop-only', steps: [{ kind: 'noop', name: 'nothing' }] },
  'zz-http.json': {
    steps: [{ name: 'ping', kind: 'shell', script: 'echo pong' }],
    name: 'ping',
    description: 'multi\nline description',
    retry: { max_attempts: 2 },
  },
  'a-hello.yaml': {
    name: 'hello',
    params_schema: { type: 'object', properties: { name: { type: 'string', maxLength: 40 } } },
    steps: [{ name: 'say', kind: 'shell', script: 'echo "hello $OCR_PARAM_NAME"' }],
  },
};

async function versions(stack: Stack): Promise<Record<string, number>> {
  const { templates } = await stack.client.templates.list();
  return Object.fromEntries(templates.map((x) => [x.name, x.version]));
}

t.test('a directory of templates round-trips: apply, export, apply --dry-run shows no change', async (t) => {
  const stack = await startStack(t, { s3: false });
  const env = envFor(stack);
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  await writeTemplates(src, TEMPLATES);

  const first = await ocr(env, 'templates', 'apply', '-f', src);
  t.equal(first.code, 0, first.stderr);
  // Files in code-point order of their path under the directory, whatever order the file system lists them.
  t.same(first.stdout.trim().split('\n'), [
    `created hello v1 (${join(src, 'a-hello.yaml')})`,
    `created deploy-check v1 (${join(src, 'ops/deploy-check.yaml')})`,
    `created noop-only v1 (${join(src, 'ops/nested/noop.yml')})`,
    `created ping v1 (${join(src, 'zz-http.json')})`,
    'applied: 4 created, 0 updated, 0 unchanged, 0 pruned',
  ]);
  t.same(await versions(stack), { 'deploy-check': 1, hello: 1, 'noop-only': 1, ping: 1 });

  const again = await ocr(env, 'templates', 'apply', '-f', src);
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, 'applied: 0 created, 0 updated, 4 unchanged, 0 pruned');
  t.same(await versions(stack), { 'deploy-check': 1, hello: 1, 'noop-only': 1, ping: 1 }, 'no new versions');

  const out = join(dir, 'exported');
  const exported = await ocr(env, 'templates', 'export', '--dir', out);
  t.equal(exported.code, 0, exported.stderr);
  t.same((await readdir(out)).sort(), ['deploy-check.yaml', 'hello.yaml', 'noop-only.yaml', 'ping.yaml']);
  const check = await ocr(env, 'templates', 'apply', '-f', out, '--dry-run', '--exit-code');
  t.equal(check.code, 0, `exported files match the server: ${check.stdout}${check.stderr}`);
  t.match(check.stdout, 'dry run: 0 to create, 0 to update, 4 unchanged, 0 to prune; nothing changed');
  t.notMatch(check.stdout, /^[-+]{3} /m, 'no diff');
  const srcCheck = await ocr(env, 'templates', 'apply', '-f', src, '--dry-run', '--exit-code');
  t.equal(srcCheck.code, 0, 'the hand-written files match too (defaults filled in the same way)');

  // Stable bytes: a second export writes the same files, with keys in the documented order.
  const deploy = await readFile(join(out, 'deploy-check.yaml'), 'utf8');
  const out2 = join(dir, 'exported-again');
  t.equal((await ocr(env, 'templates', 'export', '--dir', out2)).code, 0);
  for (const file of await readdir(out))
    t.equal(await readFile(join(out2, file), 'utf8'), await readFile(join(out, file), 'utf8'), file);
  t.same(
    deploy
      .split('\n')
      .filter((line) => /^\w/.test(line))
      .map((line) => line.split(':')[0]),
    ['name', 'description', 'params_schema', 'default_lane', 'timeout_s', 'retry', 'steps'],
  );
  t.match(deploy, 'backoff:\n    initial_s: 1\n    factor: 2\n    max_s: 60', 'API defaults made explicit');
  t.match(deploy, '  - name: summary\n    kind: shell\n    script: |', 'a multi-line script is a block');

  // stdout forms: a YAML stream, and --json (parsed) for scripts; one name only.
  const json = await ocr(env, 'templates', 'export', '--json', 'hello', 'ping');
  t.equal(json.code, 0, json.stderr);
  t.same(
    (JSON.parse(json.stdout) as { name: string; retry: unknown }[]).map((x) => [x.name, x.retry]),
    [
      ['hello', { max_attempts: 1 }],
      ['ping', { max_attempts: 2 }],
    ],
  );
  const stream = await ocr(env, 'templates', 'export');
  t.equal(stream.stdout.split('\n---\n').length, 4, 'one YAML document per template');
  const list = await ocr(env, 'templates', 'list', '--json');
  t.same((JSON.parse(list.stdout) as Template[]).map((x) => x.name).sort(), [
    'deploy-check',
    'hello',
    'noop-only',
    'ping',
  ]);
  const table = await ocr(env, 'templates', 'list');
  t.match(table.stdout, /^NAME\s+VERSION\s+LANE\s+STEPS\s+DESCRIPTION\n/);
  t.match(table.stdout, /deploy-check\s+v1\s+B\s+2\s+Check a deployment/);
  const got = await ocr(env, 'templates', 'get', 'deploy-check', '--json');
  t.match(JSON.parse(got.stdout), { name: 'deploy-check', version: 1, timeout_s: 600 });
  const gotYaml = await ocr(env, 'templates', 'get', 'deploy-check');
  t.equal(gotYaml.stdout.replace(/^#.*\n/, ''), deploy, 'get prints the exported form');
});

t.test('--dry-run prints a unified diff for a changed template and changes nothing', async (t) => {
  const stack = await startStack(t, { s3: false });
  const env = envFor(stack);
  const dir = await tempDir(t);
  await writeTemplates(dir, TEMPLATES);
  t.equal((await ocr(env, 'templates', 'apply', '-f', dir)).code, 0);

  const changed = structuredClone(TEMPLATES['a-hello.yaml']!);
  (changed.steps as { script: string }[])[0]!.script = 'echo "hi $OCR_PARAM_NAME"';
  changed.timeout_s = 120;
  await writeTemplates(dir, { 'a-hello.yaml': changed });
  const file = join(dir, 'a-hello.yaml');

  const plan = await ocr(env, 'templates', 'apply', '-f', dir, '--dry-run', '--exit-code');
  t.equal(plan.code, 10, 'changes found');
  const expected = [
    `~ update hello v1 -> v2 (${file})`,
    '--- server/hello v1',
    `+++ ${file}`,
    '@@ -7,9 +7,10 @@',
    '       type: string',
    '       maxLength: 40',
    ' default_lane: A',
    '+timeout_s: 120',
    ' retry:',
    '   max_attempts: 1',
    ' steps:',
    '   - name: say',
    '     kind: shell',
    '-    script: echo "hello $OCR_PARAM_NAME"',
    '+    script: echo "hi $OCR_PARAM_NAME"',
  ].join('\n');
  t.match(plan.stdout, expected + '\n');
  t.match(plan.stdout, `= unchanged deploy-check v1 (${join(dir, 'ops/deploy-check.yaml')})\n`);
  t.match(plan.stdout, 'dry run: 0 to create, 1 to update, 3 unchanged, 0 to prune; nothing changed');
  t.same(await versions(stack), { 'deploy-check': 1, hello: 1, 'noop-only': 1, ping: 1 }, 'nothing written');
  const without = await ocr(env, 'templates', 'apply', '-f', dir, '--dry-run');
  t.equal(without.code, 0, 'without --exit-code a dry run that found changes succeeds');

  const applied = await ocr(env, 'templates', 'apply', '-f', dir);
  t.equal(applied.code, 0, applied.stderr);
  t.match(applied.stdout, `updated hello v2 (${file})`);
  t.match(applied.stdout, `unchanged ping v1`);
  t.match(await stack.client.templates.get('hello'), { version: 2, timeout_s: 120 });
  t.equal((await ocr(env, 'templates', 'apply', '-f', dir, '--dry-run', '--exit-code')).code, 0);

  // A new file is a create: the whole template as added lines.
  await writeTemplates(dir, { 'new.yaml': { name: 'brand-new', steps: [{ name: 'x', kind: 'noop' }] } });
  const create = await ocr(env, 'templates', 'apply', '-f', join(dir, 'new.yaml'), '--dry-run');
  t.match(
    create.stdout,
    `+ create brand-new (${join(dir, 'new.yaml')})\n--- /dev/null\n+++ ${join(dir, 'new.yaml')}\n@@ -0,0 +1,10 @@\n+name: brand-new\n+description: ""\n`,
  );
});

t.test('--prune retires server templates no file defines (and --dry-run only shows it)', async (t) => {
  const stack = await startStack(t, { s3: false });
  const env = envFor(stack);
  const dir = await tempDir(t);
  await writeTemplates(dir, { 'hello.yaml': TEMPLATES['a-hello.yaml']! });
  await stack.client.templates.create({ name: 'legacy', steps: [{ name: 'old', kind: 'noop' }] });
  await stack.client.templates.create({ name: 'hello', steps: [{ name: 'old', kind: 'noop' }] });

  const plan = await ocr(env, 'templates', 'apply', '-f', dir, '--prune', '--dry-run', '--exit-code');
  t.equal(plan.code, 10);
  t.match(
    plan.stdout,
    '- prune legacy v1\n--- server/legacy v1\n+++ /dev/null\n@@ -1,10 +0,0 @@\n-name: legacy\n',
  );
  t.match(plan.stdout, 'dry run: 0 to create, 1 to update, 0 unchanged, 1 to prune; nothing changed');
  t.same(await versions(stack), { hello: 1, legacy: 1 }, 'nothing retired by a dry run');

  const noPrune = await ocr(env, 'templates', 'apply', '-f', dir);
  t.match(noPrune.stdout, 'applied: 0 created, 1 updated, 0 unchanged, 0 pruned');
  t.same(await versions(stack), { hello: 2, legacy: 1 }, 'without --prune other templates stay');

  const pruned = await ocr(env, 'templates', 'apply', '-f', dir, '--prune');
  t.equal(pruned.code, 0, pruned.stderr);
  t.match(pruned.stdout, 'pruned legacy\n');
  t.match(pruned.stdout, 'applied: 0 created, 0 updated, 1 unchanged, 1 pruned');
  t.same(await versions(stack), { hello: 2 });
  const gone = await ocr(env, 'templates', 'get', 'legacy');
  t.equal(gone.code, 3, 'a retired template is not found');
  t.match(gone.stderr, 'ocr: not_found:');
});

/** Broken template files of every kind the reader or the API refuses, each with a file name saying what it is. */
function brokenFiles(): Record<string, string> {
  const valid = (name: string) => ({ name, steps: [{ name: 's', kind: 'noop' }] });
  const y = (value: unknown) => stringify(value);
  return {
    'syntax.yaml': 'name: x\nsteps: [\n  - oops: {\n',
    'two-docs.yaml': `${y(valid('two-a'))}---\n${y(valid('two-b'))}`,
    'a-list.yaml': y([valid('listed')]),
    'empty.yaml': '# only a comment\n',
    'scalar.yml': 'just a string\n',
    'syntax.json': '{"name": "j", "steps": [}',
    'no-steps.yaml': y({ name: 'no-steps' }),
    'unknown-field.yaml': y({ ...valid('unknown-field'), colour: 'blue' }),
    'bad-kind.yaml': y({ name: 'bad-kind', steps: [{ name: 's', kind: 'teleport' }] }),
    'bad-name.yaml': y(valid('Bad Name!')),
    'dup-steps.yaml': y({ name: 'dup-steps', steps: [valid('a').steps[0], valid('a').steps[0]] }),
    'bad-lane.json': JSON.stringify({ ...valid('bad-lane'), default_lane: 'no such lane!' }),
    'bad-retry.yaml': y({ ...valid('bad-retry'), retry: { max_attempts: 0 } }),
    'bad-params-schema.yaml': y({ ...valid('bad-schema'), params_schema: { type: 'nope' } }),
    'unsafe-placeholder.yaml': y({
      name: 'unsafe',
      params_schema: { type: 'object', properties: { host: { type: 'string' } } },
      steps: [{ name: 's', kind: 'shell', script: 'echo {{params.my-host}}' }],
    }),
    'dup-name.yaml': y(valid('fine-one')),
  };
}

t.test(
  'one invalid file among valid ones: nothing is applied, one line per problem naming the file',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    const env = envFor(stack);
    await stack.client.templates.create({ name: 'fine-one', steps: [{ name: 'before', kind: 'noop' }] });
    const before = await versions(stack);
    const broken = brokenFiles();

    // Each kind on its own beside valid files: no plan at all, only problems naming that file (in process,
    // the same planning the binary runs, against the same API) ...
    for (const [file, text] of Object.entries(broken)) {
      if (file === 'dup-name.yaml') continue;
      const dir = await tempDir(t);
      await writeTemplates(dir, {
        'good/fine.yaml': { name: 'fine-one', steps: [{ name: 'after', kind: 'noop' }] },
      });
      await writeTemplates(dir, {
        'good/new.yaml': { name: 'would-be-new', steps: [{ name: 's', kind: 'noop' }] },
      });
      await writeFile(join(dir, file), text);
      const plan = await planApply(stack.client, [dir], { prune: true });
      if (plan.ok) {
        t.fail(`${file}: planned although invalid`);
        continue;
      }
      t.ok(plan.problems.length >= 1, `${file}: at least one problem`);
      for (const line of plan.problems)
        t.match(line, `${join(dir, file)}:`, `${file}: every line names the file`);
    }

    // ... the binary with one of them beside valid files and --prune: exit 1, nothing written or retired ...
    const one = await tempDir(t);
    await writeTemplates(one, {
      'fine.yaml': { name: 'fine-one', steps: [{ name: 'after', kind: 'noop' }] },
    });
    await writeTemplates(one, { 'new.yaml': { name: 'would-be-new', steps: [{ name: 's', kind: 'noop' }] } });
    await writeFile(join(one, 'unknown-field.yaml'), broken['unknown-field.yaml']!);
    const result = await ocr(env, 'templates', 'apply', '-f', one, '--prune');
    t.equal(result.code, 1);
    t.equal(result.stdout, '', 'nothing reported as applied');
    t.same(result.stderr.split('\n'), [
      `${join(one, 'unknown-field.yaml')}: colour: unknown field`,
      'ocr: nothing applied: 1 problem',
      '',
    ]);
    t.same(await versions(stack), before, 'nothing changed on the server');

    // ... and all of them at once, with a second file using a name the first one has: every file is reported.
    const dir = await tempDir(t);
    for (const [file, text] of Object.entries(broken)) await writeFile(join(dir, file), text);
    await writeTemplates(dir, { 'a-fine.yaml': { name: 'fine-one', steps: [{ name: 'x', kind: 'noop' }] } });
    const all = await ocr(env, 'templates', 'apply', '-f', dir, '--dry-run');
    t.equal(all.code, 1);
    for (const file of Object.keys(broken)) t.match(all.stderr, `${join(dir, file)}:`, `${file} is reported`);
    t.match(
      all.stderr,
      `${join(dir, 'dup-name.yaml')}: name fine-one is already defined in ${join(dir, 'a-fine.yaml')}`,
    );
    t.notMatch(all.stderr, `${join(dir, 'a-fine.yaml')}:`, 'the valid file is not');
    t.match(all.stderr, /two-docs\.yaml: 2 YAML documents \(one template per file\)/);
    const linesOf = (file: string) =>
      all.stderr.split('\n').filter((l) => l.startsWith(`${join(dir, file)}:`));
    t.equal(linesOf('syntax.yaml').length, 1, 'a YAML syntax error: its first error only');
    t.match(linesOf('syntax.yaml')[0], /syntax\.yaml:\d+:\d+: invalid YAML: /, 'with line and column');
    t.same(linesOf('bad-kind.yaml'), [
      `${join(dir, 'bad-kind.yaml')}: steps[0].kind: unknown kind "teleport": one of shell, docker, http, mcp, noop, spec-kit.generate, spec-kit.validate`,
    ]);
    t.same(linesOf('no-steps.yaml'), [`${join(dir, 'no-steps.yaml')}: steps: is required`]);
    t.same(linesOf('empty.yaml'), [`${join(dir, 'empty.yaml')}: empty file (expected one template)`]);
    t.same(linesOf('a-list.yaml'), [
      `${join(dir, 'a-list.yaml')}: expected a mapping (one template), found a list`,
    ]);
    t.match(all.stderr, /unknown-field\.yaml: colour: unknown field/);
    t.same(await versions(stack), before);

    const missing = await ocr(env, 'templates', 'apply', '-f', join(dir, 'nope.yaml'));
    t.equal(missing.code, 1);
    t.match(missing.stderr, `${join(dir, 'nope.yaml')}: no such file or directory`);
  },
);

t.test('a template changed between plan and apply is refused (If-Match), not overwritten', async (t) => {
  const stack = await startStack(t, { s3: false });
  const dir = await tempDir(t);
  await stack.client.templates.create({ name: 'hello', steps: [{ name: 'old', kind: 'noop' }] });
  await writeTemplates(dir, { 'hello.yaml': TEMPLATES['a-hello.yaml']! });
  const plan = await planApply(stack.client, [dir], { prune: false });
  if (!plan.ok) throw new Error(plan.problems.join('\n'));
  t.match(plan.entries, [{ action: 'update', name: 'hello', version: 1 }]);
  // Someone saves a version in the console after the plan read v1.
  await stack.client.templates.put({ name: 'hello', steps: [{ name: 'console-edit', kind: 'noop' }] });
  const refused = await applyPlan(stack.client, plan.entries, () => {}).catch((err: unknown) => err);
  t.ok(isApiError(refused, 'conflict'), 'the write is refused');
  t.match(refused, { status: 409, details: { current_version: 2 } });
  const now = await stack.client.templates.get('hello');
  t.equal(now.version, 2);
  t.match(now.steps, [{ name: 'console-edit' }], "the other writer's version stands");

  // A second apply plans again, against v2, and goes through.
  const again = await ocr(envFor(stack), 'templates', 'apply', '-f', dir);
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, 'updated hello v3');
});
