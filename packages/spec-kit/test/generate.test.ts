import t from 'tap';
import {
  generateSpecKit,
  parseSpecKitInput,
  slugify,
  SpecKitInputError,
  SPEC_FILES,
  validateSpecKit,
} from '../src/index.js';

const input = {
  name: 'Acme Deploys',
  description: 'Ship safely, roll back fast.',
  goals: ['Deploy with one click', 'Roll back in a minute', 'See deploy history', 'Alert on a failed deploy'],
  users: ['release engineer', 'on-call operator'],
  constraints: ['Runs on Kubernetes', 'No vendor lock-in'],
  milestones: ['MVP', 'GA'],
};

t.test('the four documents validate, with every goal a traced requirement', async (t) => {
  const kit = generateSpecKit(input);
  t.same(Object.keys(kit), [...SPEC_FILES]);
  const report = validateSpecKit(kit);
  t.same(report.problems, []);
  t.equal(report.valid, true);
  t.same(
    report.requirements.map((r) => r.id),
    ['R1', 'R2', 'R3', 'R4'],
  );
  t.ok(
    report.requirements.every(
      (r) => r.user_story && r.acceptance_criteria >= 2 + input.constraints.length && r.tasks.length >= 2,
    ),
  );
  t.ok(report.tasks.every((task) => task.status === 'todo'));
});

t.test('documents carry the inputs: principles, stories, phases with dependencies, task ids', async (t) => {
  const kit = generateSpecKit(input);
  t.match(kit['constitution.md'], /^# Acme Deploys — Constitution/);
  t.match(kit['constitution.md'], /## Constraints\n\n- Runs on Kubernetes\n- No vendor lock-in/);
  t.match(
    kit['prd.md'],
    /### R2: Roll back in a minute\n\n\*\*User story:\*\* As an on-call operator, I want to roll back in a minute/,
  );
  t.match(kit['plan.md'], /### Phase 1 — MVP[\s\S]*### Phase 2 — GA/);
  t.match(kit['plan.md'], /Phase 2 \(GA\) depends on Phase 1 \(MVP\)/);
  t.match(kit['tasks.md'], /- \[ \] T1\.2 Build: Deploy with one click \(R1\)/);
  t.match(kit['tasks.md'], /- \[ \] T2\.\d+ Test: acceptance criteria of R4 \(R4\)/);
});

t.test('three default phases without milestones; one user when none are named', async (t) => {
  const kit = generateSpecKit({ name: 'Solo', goals: ['One goal'] });
  t.match(kit['plan.md'], /Phase 1 — Foundation[\s\S]*Phase 2 — Build[\s\S]*Phase 3 — Release/);
  t.match(kit['prd.md'], /As a user, I want to one goal/);
  t.equal(validateSpecKit(kit).valid, true);
});

t.test('the output is deterministic', async (t) => {
  t.same(generateSpecKit(input), generateSpecKit(structuredClone(input)));
});

t.test('input values cannot change the structure of the documents', async (t) => {
  const kit = generateSpecKit({
    name: '# Evil\n## Requirements',
    goals: ['Reach R9 quickly\n### R7: injected', '```\nfenced'],
    users: ['- [ ] T9 fake task'],
  });
  const report = validateSpecKit(kit);
  t.same(report.problems, [], 'still valid');
  t.same(
    report.requirements.map((r) => r.id),
    ['R1', 'R2'],
  );
  t.notOk(report.tasks.some((task) => task.id === 'T9'));
  t.notOk(kit['tasks.md'].includes('(R9'), 'R-words in goals are not traces');
});

t.test('input is checked, with each problem naming its field', async (t) => {
  t.throws(() => generateSpecKit({ goals: ['x'] }), new SpecKitInputError(['name: is required']));
  try {
    parseSpecKitInput({ name: 'x', goals: [], users: 'a\nb', constraints: 3, milestones: ['ok', 4] });
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof SpecKitInputError);
    t.same((err as SpecKitInputError).problems, [
      'constraints: must be a list of strings or a string with one item per line',
      'milestones[1]: must be a string',
      'goals: at least one goal is required (each becomes a requirement)',
    ]);
    t.equal((err as SpecKitInputError).code, 'invalid_spec_kit_input');
  }
  t.same(parseSpecKitInput({ project: 'P', goals: 'one\n\ntwo\n', users: 'a\nb' }), {
    name: 'P',
    description: '',
    goals: ['one', 'two'],
    users: ['a', 'b'],
    constraints: [],
    milestones: [],
  });
  t.throws(() => parseSpecKitInput(['x']), SpecKitInputError);
});

t.test('slugify', async (t) => {
  t.equal(slugify('Ops Control Room!'), 'ops-control-room');
  t.equal(slugify('***'), 'project');
});
