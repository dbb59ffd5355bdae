import t from 'tap';
import { validateSpecKit, type Problem } from '../src/index.js';
import { validKit } from './fixtures.js';

const codes = (problems: Problem[]) => problems.map((p) => p.code);

t.test('a well-formed kit is valid, with requirements, tasks and traces', async (t) => {
  const report = validateSpecKit(validKit(), 'fixture');
  t.same(report.problems, []);
  t.equal(report.valid, true);
  t.equal(report.source, 'fixture');
  t.same(
    report.requirements.map((r) => [r.id, r.acceptance_criteria, r.user_story, r.tasks]),
    [
      ['R1', 1, true, ['T1.1', 'T1.1.1']],
      ['R2', 1, true, ['T1.2']],
    ],
  );
  t.same(
    report.tasks.map((task) => [task.id, task.status, task.line]),
    [
      ['T1.1', 'done', 5],
      ['T1.1.1', 'in_progress', 6],
      ['T1.2', 'todo', 7],
    ],
  );
  t.same(report.summary, {
    errors: 0,
    warnings: 0,
    requirements: 2,
    traced_requirements: 2,
    tasks: 3,
    tasks_by_status: { todo: 1, in_progress: 1, done: 1, blocked: 0 },
  });
});

t.test('a missing file is one problem without a line', async (t) => {
  const kit = validKit();
  delete kit['plan.md'];
  const report = validateSpecKit(kit);
  t.equal(report.valid, false);
  t.same(report.problems, [
    {
      level: 'error',
      code: 'missing_file',
      file: 'plan.md',
      line: null,
      message: 'plan.md is missing: a kit has constitution.md, prd.md, plan.md, tasks.md',
    },
  ]);
  t.same(
    report.files.find((f) => f.name === 'plan.md'),
    { name: 'plan.md', present: false, lines: 0 },
  );
});

t.test('title, required sections and empty sections are checked per file', async (t) => {
  const kit = validKit();
  kit['constitution.md'] = kit['constitution.md']!.replace(
    '## Governance\n\nChanges are reviewed.\n',
    '',
  ).replace('# Demo — Constitution', 'Demo constitution');
  kit['plan.md'] = kit['plan.md']!.replace('- None.\n', '');
  const report = validateSpecKit(kit);
  t.match(report.problems, [
    { code: 'missing_title', file: 'constitution.md', line: 1 },
    { code: 'missing_section', file: 'constitution.md', message: /## Governance/ },
    { code: 'empty_section', file: 'plan.md', line: 9 },
  ]);
  t.equal(report.problems.length, 3);
});

t.test('headings match loosely but not by accident', async (t) => {
  const kit = validKit();
  kit['prd.md'] = kit['prd.md']!.replace('## Goals', '## 2. Goals and non-goals').replace(
    '## Overview',
    '## Non-overview',
  );
  t.same(codes(validateSpecKit(kit).problems), ['missing_section']);
});

t.test('an empty file is reported once', async (t) => {
  const kit = validKit();
  kit['constitution.md'] = '\n\n';
  t.same(
    validateSpecKit(kit).problems.map((p) => [p.code, p.file]),
    [['empty_file', 'constitution.md']],
  );
});

t.test('a PRD requirement without acceptance criteria is an error on its heading line', async (t) => {
  const kit = validKit();
  kit['prd.md'] = kit['prd.md']!.replace(
    '**Acceptance criteria:**\n- Given a thing, when I do it, then it is done.\n',
    '',
  );
  const report = validateSpecKit(kit);
  t.same(
    report.problems.map((p) => [p.code, p.file, p.line]),
    [['missing_acceptance_criteria', 'prd.md', 17]],
  );
  t.match(report.problems[0]!.message, /R1 has no acceptance criteria/);
});

t.test('an acceptance-criteria label with no list under it does not count', async (t) => {
  const kit = validKit();
  kit['prd.md'] = kit['prd.md']!.replace(
    '- Given a thing, when I do it, then it is done.\n',
    'Nothing yet.\n',
  );
  t.same(codes(validateSpecKit(kit).problems), ['missing_acceptance_criteria']);
});

t.test('requirements need ids, unique ones; a missing user story is a warning only', async (t) => {
  const kit = validKit();
  kit['prd.md'] =
    kit['prd.md']!.replace('### R2 — Do another thing', '### R1 — Do another thing').replace(
      'As an operator, I want another thing.',
      'Another.',
    ) + '\n### Something without an id\n\nAcceptance criteria:\n- x\n';
  const report = validateSpecKit(kit);
  t.same(
    report.problems.map((p) => [p.level, p.code, p.line]),
    [
      ['error', 'duplicate_requirement_id', 24],
      ['error', 'requirement_without_id', 32],
      ['error', 'unknown_requirement', 7],
    ],
  );
  const warned = validKit();
  warned['prd.md'] = warned['prd.md']!.replace('As an operator, I want another thing.', 'Another.');
  const report2 = validateSpecKit(warned);
  t.equal(report2.valid, true, 'warnings do not invalidate');
  t.same(
    report2.problems.map((p) => [p.level, p.code, p.line]),
    [['warning', 'missing_user_story', 24]],
  );
  t.equal(report2.summary.warnings, 1);
});

t.test('a PRD with no requirements at all', async (t) => {
  const kit = validKit();
  kit['prd.md'] = kit['prd.md']!.split('### R1')[0]! + 'To be written.\n';
  t.same(codes(validateSpecKit(kit).problems), [
    'no_requirements',
    'unknown_requirement',
    'unknown_requirement',
    'unknown_requirement',
  ]);
  kit['prd.md'] = kit['prd.md'].replace('To be written.\n', '');
  t.same(
    codes(validateSpecKit(kit).problems).slice(0, 1),
    ['empty_section'],
    'an empty section is reported as such, not twice',
  );
});

t.test('tasks without ids are errors on their lines; no task at all is no_tasks', async (t) => {
  const kit = validKit();
  kit['tasks.md'] = '# Tasks\n\n## Phase 1\n\n- [ ] Do one thing (R1)\n- [ ] Do another (R2)\n';
  const report = validateSpecKit(kit);
  t.same(
    report.problems.map((p) => [p.code, p.file, p.line]),
    [
      ['task_without_id', 'tasks.md', 5],
      ['task_without_id', 'tasks.md', 6],
      ['untraced_requirement', 'prd.md', 17],
      ['untraced_requirement', 'prd.md', 24],
    ],
  );
  kit['tasks.md'] = '# Tasks\n\nNothing planned yet.\n';
  t.same(codes(validateSpecKit(kit).problems), ['no_tasks', 'untraced_requirement', 'untraced_requirement']);
});

t.test('task ids are unique, statuses are known, traces point at real requirements', async (t) => {
  const kit = validKit();
  kit['tasks.md'] =
    '# Tasks\n\n- [x] T1 One (R1)\n- [x] T1 Again (R1)\n- [?] T2 Odd (R2)\n- [!] T3 Blocked (R2, R9)\n';
  const report = validateSpecKit(kit);
  t.same(
    report.problems.map((p) => [p.code, p.line]),
    [
      ['duplicate_task_id', 4],
      ['invalid_task_status', 5],
      ['unknown_requirement', 6],
    ],
  );
  t.same(
    report.tasks.map((task) => [task.id, task.status, task.requirements]),
    [
      ['T1', 'done', ['R1']],
      ['T3', 'blocked', ['R2', 'R9']],
    ],
  );
});

t.test('every requirement must be traced to a task', async (t) => {
  const kit = validKit();
  kit['tasks.md'] = kit['tasks.md']!.replace('- [ ] T1.2 Do another (R2)\n', '');
  const report = validateSpecKit(kit);
  t.same(
    report.problems.map((p) => [p.code, p.file, p.line]),
    [['untraced_requirement', 'prd.md', 24]],
  );
  t.same(report.summary.traced_requirements, 1);
});

t.test('a plan needs phases under Phases', async (t) => {
  const kit = validKit();
  kit['plan.md'] = kit['plan.md']!.replace('### Phase 1 — All of it\n', '');
  t.same(
    validateSpecKit(kit).problems.map((p) => [p.code, p.line]),
    [['no_phases', 3]],
  );
});

t.test('headings inside code fences are not structure', async (t) => {
  const kit = validKit();
  kit['constitution.md'] = kit['constitution.md']!.replace('## Governance', '```\n## Governance\n```');
  t.same(codes(validateSpecKit(kit).problems), ['missing_section']);
});
