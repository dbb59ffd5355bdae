import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import t from 'tap';
import {
  formatProblems,
  generateSpecKit,
  readSpecKitDir,
  renderReportMarkdown,
  SpecKitDirError,
  SpecKitZipError,
  unzipSpecKit,
  validateSpecKit,
  writeSpecKitDir,
  zipSpecKit,
} from '../src/index.js';
import { validKit } from './fixtures.js';

t.test('zip round trip under a folder, byte-identical for the same content', async (t) => {
  const kit = generateSpecKit({ name: 'Zipped', goals: ['A goal'] });
  const zip = zipSpecKit(kit, 'zipped');
  t.same(unzipSpecKit(zip), kit);
  t.same(zipSpecKit(kit, 'zipped'), zip, 'reproducible');
});

t.test('unzip finds the kit at the top level or in the shallowest folder and ignores the rest', async (t) => {
  const flat = zipSync({ 'prd.md': strToU8('# P'), 'notes.txt': strToU8('x') });
  t.same(unzipSpecKit(flat), { 'prd.md': '# P' });
  const nested = zipSync({
    'kit/prd.md': strToU8('# outer'),
    'kit/old/prd.md': strToU8('# inner'),
    'kit/tasks.md': strToU8('# T'),
  });
  t.same(unzipSpecKit(nested), { 'prd.md': '# outer', 'tasks.md': '# T' });
  t.throws(() => unzipSpecKit(zipSync({ 'readme.md': strToU8('x') })), SpecKitZipError);
  t.throws(() => unzipSpecKit(strToU8('not a zip')), {
    name: 'SpecKitZipError',
    code: 'invalid_spec_kit_zip',
  });
});

t.test('a directory round trip; a missing directory is an error, a missing file is a finding', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'spec-kit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kit = validKit();
  delete kit['tasks.md'];
  await writeSpecKitDir(join(dir, 'kit'), kit);
  t.same(await readSpecKitDir(join(dir, 'kit')), kit);
  await t.rejects(readSpecKitDir(join(dir, 'nope')), SpecKitDirError);
  await writeFile(join(dir, 'file'), 'x');
  await t.rejects(readSpecKitDir(join(dir, 'file')), { message: /not a directory/ });
});

t.test('problems print as file:line and the markdown summary lists them with the trace table', async (t) => {
  const kit = validKit();
  kit['prd.md'] = kit['prd.md']!.replace(
    '**Acceptance criteria:**\n- Given a thing, when I do it, then it is done.\n',
    '',
  );
  delete kit['plan.md'];
  const report = validateSpecKit(kit, 'spec/demo');
  t.same(formatProblems(report, 'spec/demo'), [
    'spec/demo/plan.md: error missing_file: plan.md is missing: a kit has constitution.md, prd.md, plan.md, tasks.md',
    'spec/demo/prd.md:17: error missing_acceptance_criteria: requirement R1 has no acceptance criteria: add "Acceptance criteria:" and a list under it',
  ]);
  const md = renderReportMarkdown(report);
  t.match(md, /^# Spec Kit validation: ❌ invalid/);
  t.match(md, /\| error \| missing_acceptance_criteria \| prd\.md:17 \|/);
  t.match(md, /\| R1: Do one thing \| 0 \| T1\.1, T1\.1\.1 \|/);
  t.match(renderReportMarkdown(validateSpecKit(validKit())), /✅ valid[\s\S]*## Problems\n\nNone\./);
});
