/**
 * The validator: pure, over file contents. Checks required files, their title and required sections,
 * requirements with ids and acceptance criteria in the PRD, phases in the plan, a task breakdown with ids
 * and statuses, and the cross-references (every task's requirement exists; every requirement is traced).
 */
import { hasContent, normalizeHeading, scanLines, sectionsAt, type Line, type Section } from './markdown.js';
import {
  ACCEPTANCE_LABEL,
  headingMatches,
  REQUIRED_SECTIONS,
  REQUIREMENT_HEADING,
  REQUIREMENT_REF,
  TASK_CHECKBOXES,
  TASK_ID,
  USER_STORY,
} from './rules.js';
import {
  SPEC_FILES,
  type Problem,
  type ProblemCode,
  type ProblemLevel,
  type RequirementInfo,
  type SpecFileName,
  type SpecKitFiles,
  type TaskInfo,
  type TaskStatus,
  type ValidationReport,
} from './types.js';

/** Collects problems in the order they are found. */
class Findings {
  readonly problems: Problem[] = [];
  add(level: ProblemLevel, code: ProblemCode, file: string, line: number | null, message: string): void {
    this.problems.push({ level, code, file, line, message });
  }
  error(code: ProblemCode, file: string, line: number | null, message: string): void {
    this.add('error', code, file, line, message);
  }
}

/** Validate a kit held in memory. `source` labels the report (a directory, an artifact, a project). */
export function validateSpecKit(files: SpecKitFiles, source = 'spec kit'): ValidationReport {
  const findings = new Findings();
  const parsed = new Map<SpecFileName, Line[]>();
  for (const name of SPEC_FILES) {
    const content = files[name];
    if (content === undefined) {
      findings.error('missing_file', name, null, `${name} is missing: a kit has ${SPEC_FILES.join(', ')}`);
      continue;
    }
    const lines = scanLines(content);
    parsed.set(name, lines);
    checkStructure(name, lines, findings);
  }
  const prd = parsed.get('prd.md');
  const requirements = prd ? checkRequirements(prd, findings) : [];
  const plan = parsed.get('plan.md');
  if (plan) checkPlan(plan, findings);
  const tasksLines = parsed.get('tasks.md');
  const tasks = tasksLines ? checkTasks(tasksLines, findings) : [];
  if (prd && tasksLines) checkTraceability(requirements, tasks, findings);

  const problems = findings.problems;
  const byStatus: Record<TaskStatus, number> = { todo: 0, in_progress: 0, done: 0, blocked: 0 };
  for (const task of tasks) byStatus[task.status]++;
  const errors = problems.filter((p) => p.level === 'error').length;
  return {
    valid: errors === 0,
    source,
    files: SPEC_FILES.map((name) => ({
      name,
      present: files[name] !== undefined,
      lines: files[name]?.split(/\r?\n/).length ?? 0,
    })),
    summary: {
      errors,
      warnings: problems.length - errors,
      requirements: requirements.length,
      traced_requirements: requirements.filter((r) => r.tasks.length > 0).length,
      tasks: tasks.length,
      tasks_by_status: byStatus,
    },
    requirements,
    tasks,
    problems,
  };
}

/** A title (`#`) first, then every required `##` section, each with something in it. */
function checkStructure(name: SpecFileName, lines: Line[], findings: Findings): void {
  if (lines.every((line) => line.kind === 'blank')) {
    findings.error('empty_file', name, 1, `${name} is empty`);
    return;
  }
  const first = lines.find((line) => line.kind !== 'blank')!;
  const titleLine = first.kind === 'heading' ? first.heading.line : 1;
  if (first.kind !== 'heading' || first.heading.level !== 1) {
    findings.error('missing_title', name, titleLine, `${name} must start with a "# " title`);
  }
  const sections = sectionsAt(lines, 2);
  for (const required of REQUIRED_SECTIONS[name]) {
    const section = sections.find((s) => headingMatches(normalizeHeading(s.heading.text), required));
    if (!section)
      findings.error('missing_section', name, titleLine, `${name} has no "## ${required}" section`);
    else if (!hasContent(section))
      findings.error(
        'empty_section',
        name,
        section.heading.line,
        `section "${section.heading.text}" is empty`,
      );
  }
}

function findSection(lines: Line[], required: string): Section | undefined {
  return sectionsAt(lines, 2).find((s) => headingMatches(normalizeHeading(s.heading.text), required));
}

/** Requirements are `###` headings under `## Requirements`, each with an id, a user story and criteria. */
function checkRequirements(lines: Line[], findings: Findings): RequirementInfo[] {
  const section = findSection(lines, 'Requirements');
  if (!section || !hasContent(section)) return [];
  const requirements: RequirementInfo[] = [];
  const seen = new Map<string, number>();
  for (const block of sectionsAt(section.body, 3)) {
    const { text, line } = block.heading;
    const match = REQUIREMENT_HEADING.exec(text.replace(/[*_`]/g, '').trim());
    if (!match) {
      findings.error(
        'requirement_without_id',
        'prd.md',
        line,
        `requirement "${text}" has no id: write "### R<n>: ${text}"`,
      );
      continue;
    }
    const id = match[1]!;
    if (seen.has(id)) {
      findings.error(
        'duplicate_requirement_id',
        'prd.md',
        line,
        `requirement id ${id} is already used on line ${seen.get(id)}`,
      );
      continue;
    }
    seen.set(id, line);
    const criteria = countAcceptanceCriteria(block.body);
    if (criteria === 0) {
      findings.error(
        'missing_acceptance_criteria',
        'prd.md',
        line,
        `requirement ${id} has no acceptance criteria: add "Acceptance criteria:" and a list under it`,
      );
    }
    const story = block.body.some(
      (l) =>
        (l.kind === 'text' && USER_STORY.test(l.text)) || (l.kind === 'item' && USER_STORY.test(l.item.text)),
    );
    if (!story)
      findings.add(
        'warning',
        'missing_user_story',
        'prd.md',
        line,
        `requirement ${id} has no user story ("As a …, I want …, so that …")`,
      );
    requirements.push({
      id,
      title: match[2]!.trim(),
      line,
      acceptance_criteria: criteria,
      user_story: story,
      tasks: [],
    });
  }
  if (requirements.length === 0 && !findings.problems.some((p) => p.code === 'requirement_without_id')) {
    findings.error(
      'no_requirements',
      'prd.md',
      section.heading.line,
      'the Requirements section has no "### R<n>: …" requirement',
    );
  }
  return requirements;
}

/** List items after the "Acceptance criteria" label (a text line or a heading), up to the next label. */
function countAcceptanceCriteria(body: Line[]): number {
  let inside = false;
  let count = 0;
  for (const line of body) {
    const label = line.kind === 'text' ? line.text : line.kind === 'heading' ? line.heading.text : undefined;
    if (label !== undefined) {
      const plain = label.replace(/[*_`]/g, '').trim();
      if (ACCEPTANCE_LABEL.test(plain)) {
        inside = true;
        continue;
      }
      // Another bold label or heading ends the list; plain prose between items does not.
      if (line.kind === 'heading' || /^\*\*[^*]+\*\*/.test(label)) inside = false;
      continue;
    }
    if (inside && line.kind === 'item') count++;
  }
  return count;
}

/** The plan's phases are `###` headings under `## Phases`. */
function checkPlan(lines: Line[], findings: Findings): void {
  const section = findSection(lines, 'Phases');
  if (section && hasContent(section) && sectionsAt(section.body, 3).length === 0) {
    findings.error('no_phases', 'plan.md', section.heading.line, 'the Phases section has no "### " phase');
  }
}

/** Tasks are checkbox items with an id; anything else in tasks.md is prose. */
function checkTasks(lines: Line[], findings: Findings): TaskInfo[] {
  const tasks: TaskInfo[] = [];
  const seen = new Map<string, number>();
  for (const line of lines) {
    if (line.kind !== 'item' || line.item.checkbox === undefined) continue;
    const { text, line: at, checkbox } = line.item;
    const match = TASK_ID.exec(text.replace(/[*_`]/g, '').trim());
    if (!match) {
      findings.error(
        'task_without_id',
        'tasks.md',
        at,
        `task "${text}" has no id: write "- [ ] T<n>.<m> ${text}"`,
      );
      continue;
    }
    const id = match[1]!;
    const status = TASK_CHECKBOXES[checkbox];
    if (!status) {
      findings.error(
        'invalid_task_status',
        'tasks.md',
        at,
        `task ${id} has checkbox "[${checkbox}]": use [ ], [~], [x] or [!]`,
      );
      continue;
    }
    if (seen.has(id)) {
      findings.error(
        'duplicate_task_id',
        'tasks.md',
        at,
        `task id ${id} is already used on line ${seen.get(id)}`,
      );
      continue;
    }
    seen.set(id, at);
    tasks.push({
      id,
      title: match[2]!.trim(),
      status,
      line: at,
      requirements: [...new Set(text.match(REQUIREMENT_REF) ?? [])],
    });
  }
  if (
    tasks.length === 0 &&
    !findings.problems.some((p) => p.file === 'tasks.md' && p.code !== 'missing_title')
  ) {
    findings.error('no_tasks', 'tasks.md', 1, 'tasks.md has no task: write "- [ ] T1.1 …" items');
  }
  return tasks;
}

/** Every requirement a task names exists, and every requirement is named by at least one task. */
function checkTraceability(requirements: RequirementInfo[], tasks: TaskInfo[], findings: Findings): void {
  const byId = new Map(requirements.map((r) => [r.id, r]));
  for (const task of tasks) {
    for (const ref of task.requirements) {
      const requirement = byId.get(ref);
      if (requirement) requirement.tasks.push(task.id);
      else
        findings.error(
          'unknown_requirement',
          'tasks.md',
          task.line,
          `task ${task.id} traces to ${ref}, which prd.md does not define`,
        );
    }
  }
  for (const requirement of requirements) {
    if (requirement.tasks.length === 0) {
      findings.error(
        'untraced_requirement',
        'prd.md',
        requirement.line,
        `requirement ${requirement.id} is not traced to any task in tasks.md`,
      );
    }
  }
}
