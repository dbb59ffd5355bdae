import type { Command } from '@commander-js/extra-typings';
import { formatProblems, readSpecKitDir, validateSpecKit } from '@ocr/spec-kit';

/**
 * `ocr spec validate DIR [--json]`: validate a Spec Kit directory. Prints one `file:line: level code:
 * message` line per problem (or the JSON report) and exits 1 when the kit is invalid, so CI fails the check.
 */
export function registerSpecValidate(spec: Command): void {
  spec
    .command('validate')
    .description(
      'validate a Spec Kit directory (constitution.md, prd.md, plan.md, tasks.md); exit 1 when invalid',
    )
    .argument('<dir>', 'the kit directory, e.g. spec/ops-control-room')
    .option('--json', 'print the JSON report instead of one line per problem')
    .action(async (dir, opts) => {
      const report = validateSpecKit(await readSpecKitDir(dir), dir);
      if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else {
        for (const line of formatProblems(report, dir)) process.stdout.write(line + '\n');
        const { summary } = report;
        process.stdout.write(
          `${dir}: ${report.valid ? 'valid' : 'invalid'} — ${summary.errors} errors, ${summary.warnings} warnings; ` +
            `${summary.requirements} requirements (${summary.traced_requirements} traced), ${summary.tasks} tasks ` +
            `(${summary.tasks_by_status.done} done, ${summary.tasks_by_status.in_progress} in progress)\n`,
        );
      }
      if (!report.valid) process.exitCode = 1;
    });
}
