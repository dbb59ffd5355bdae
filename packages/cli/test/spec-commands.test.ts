/** `ocr spec validate` and `ocr spec generate` as CI and people run them: the real binary, real files. */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { unzipSpecKit, type ValidationReport } from '@ocr/spec-kit';

const ROOT = resolve(import.meta.dirname, '../../..');
const OCR = join(ROOT, 'packages/cli/bin/ocr.js');

function ocr(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [OCR, ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

t.test('ocr help lists both spec commands', async (t) => {
  const { code, stdout } = await ocr('help');
  t.equal(code, 0);
  t.match(stdout, /spec\s+validate\s+DIR/);
  t.match(stdout, /spec\s+generate\s+--name/);
});

t.test(
  'the workflow command: validate spec/ops-control-room --json exits 0 with a valid report',
  async (t) => {
    const { code, stdout } = await ocr('spec', 'validate', 'spec/ops-control-room', '--json');
    t.equal(code, 0);
    const report = JSON.parse(stdout) as ValidationReport;
    t.match(report, { valid: true, source: 'spec/ops-control-room', problems: [] });
  },
);

t.test('an invalid kit exits 1 with file:line per problem (and in --json)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ocr-spec-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(join(ROOT, 'spec/ops-control-room'), dir, { recursive: true });
  const tasks = await readFile(join(dir, 'tasks.md'), 'utf8');
  await writeFile(join(dir, 'tasks.md'), tasks.replace('- [x] T0.1 ', '- [x] '));
  await rm(join(dir, 'plan.md'));
  const line = tasks.split('\n').findIndex((l) => l.startsWith('- [x] T0.1 ')) + 1;
  const text = await ocr('spec', 'validate', dir);
  t.equal(text.code, 1);
  t.match(text.stdout, `${dir}/plan.md: error missing_file:`);
  t.match(text.stdout, `${dir}/tasks.md:${line}: error task_without_id:`);
  t.match(text.stdout, /invalid — 2 errors/);
  const json = await ocr('spec', 'validate', dir, '--json');
  t.equal(json.code, 1);
  t.same(
    (JSON.parse(json.stdout) as ValidationReport).problems.map((p) => [p.code, p.file, p.line]),
    [
      ['missing_file', 'plan.md', null],
      ['task_without_id', 'tasks.md', line],
    ],
  );
});

t.test('a directory that does not exist is one clear line on stderr, exit 1', async (t) => {
  const { code, stdout, stderr } = await ocr('spec', 'validate', 'no/such/dir');
  t.equal(code, 1);
  t.equal(stdout, '');
  t.equal(stderr, 'ocr: no/such/dir: no such directory\n');
});

t.test('generate from a YAML file with flag overrides writes a kit (and a zip) that validates', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ocr-spec-gen-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'input.yaml'),
    'name: From File\ndescription: A test project\ngoals:\n  - First goal\n  - Second goal\nusers: [operators]\n',
  );
  const generated = await ocr(
    'spec',
    'generate',
    '-f',
    join(dir, 'input.yaml'),
    '--name',
    'Overridden',
    '--milestone',
    'Only',
    '--out',
    join(dir, 'kit'),
    '--zip',
    join(dir, 'kit.zip'),
  );
  t.equal(generated.code, 0, generated.stderr);
  t.match(generated.stdout, /wrote .*kit\/prd\.md/);
  t.match(
    await readFile(join(dir, 'kit/prd.md'), 'utf8'),
    /^# Overridden — Product Requirements[\s\S]*### R2: Second goal/,
  );
  t.match(await readFile(join(dir, 'kit/plan.md'), 'utf8'), /### Phase 1 — Only/);
  t.same(Object.keys(unzipSpecKit(await readFile(join(dir, 'kit.zip')))).sort(), [
    'constitution.md',
    'plan.md',
    'prd.md',
    'tasks.md',
  ]);
  const validated = await ocr('spec', 'validate', join(dir, 'kit'));
  t.equal(validated.code, 0, validated.stdout);
});

t.test('generate without a name or goals explains what is missing, exit 1', async (t) => {
  const { code, stderr } = await ocr('spec', 'generate', '--out', join(tmpdir(), 'never-written'));
  t.equal(code, 1);
  t.match(stderr, /name: is required; goals: at least one goal is required/);
});
