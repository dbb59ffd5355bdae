/** The report for people: one line per problem (`file:line level code message`) and a markdown summary. */
import type { Problem, ValidationReport } from './types.js';

/** `prd.md:12` (or just `prd.md` when the problem has no line). */
export function problemLocation(problem: Problem, dir?: string): string {
  const file = dir ? `${dir.replace(/\/+$/, '')}/${problem.file}` : problem.file;
  return problem.line === null ? file : `${file}:${problem.line}`;
}

/** One line per problem, the way compilers print them, so editors and CI annotate the right line. */
export function formatProblems(report: ValidationReport, dir?: string): string[] {
  return report.problems.map((p) => `${problemLocation(p, dir)}: ${p.level} ${p.code}: ${p.message}`);
}

/** Markdown escaped for a table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** A readable markdown summary of a report: verdict, counts, problems, traceability. */
export function renderReportMarkdown(report: ValidationReport): string {
  const { summary } = report;
  const lines = [
    `# Spec Kit validation: ${report.valid ? '✅ valid' : '❌ invalid'}`,
    '',
    `Source: \`${cell(report.source)}\``,
    '',
    `- Files: ${report.files.map((f) => `${f.name} ${f.present ? '✓' : '✗ missing'}`).join(', ')}`,
    `- Errors: ${summary.errors}, warnings: ${summary.warnings}`,
    `- Requirements: ${summary.requirements} (${summary.traced_requirements} traced to tasks)`,
    `- Tasks: ${summary.tasks} (done ${summary.tasks_by_status.done}, in progress ${summary.tasks_by_status.in_progress}, not started ${summary.tasks_by_status.todo}, blocked ${summary.tasks_by_status.blocked})`,
    '',
    '## Problems',
    '',
  ];
  if (report.problems.length === 0) lines.push('None.');
  else {
    lines.push('| level | code | where | message |', '|---|---|---|---|');
    for (const p of report.problems)
      lines.push(`| ${p.level} | ${p.code} | ${cell(problemLocation(p))} | ${cell(p.message)} |`);
  }
  if (report.requirements.length > 0) {
    lines.push('', '## Traceability', '', '| requirement | criteria | tasks |', '|---|---|---|');
    for (const r of report.requirements)
      lines.push(`| ${r.id}: ${cell(r.title)} | ${r.acceptance_criteria} | ${r.tasks.join(', ') || '—'} |`);
  }
  return lines.join('\n') + '\n';
}
