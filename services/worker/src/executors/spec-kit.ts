/**
 * The Spec Kit built-ins. `spec-kit.generate` writes the four documents as markdown artifacts, stores each
 * as a new `spec_docs` version of the project (linked to its artifact), and leaves the folder as a zip
 * artifact. `spec-kit.validate` reads a kit (see spec-kit-source.ts), writes a JSON report and a markdown
 * summary, emits each problem as an event, and fails when the kit is invalid.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SpecKitGenerateStep, SpecKitValidateStep } from '@ocr/contracts';
import {
  formatProblems,
  generateSpecKit,
  parseSpecKitInput,
  problemLocation,
  renderReportMarkdown,
  slugify,
  SpecKitInputError,
  validateSpecKit,
  zipSpecKit,
} from '@ocr/spec-kit';
import { renderJson } from '../params/index.js';
import { defineExecutor } from './define-executor.js';
import { DEFAULT_GIT_POLICY, loadSpecKit, type GitSourcePolicy } from './spec-kit-source.js';
import type { StepStop } from './step-stop.js';
import { ExecutorError, stepResult, type StepContext } from './types.js';

/** The step's input: its `input` with placeholders rendered, or the run's params when it has none. */
function stepInput(step: { input?: Record<string, unknown> }, ctx: StepContext): Record<string, unknown> {
  return step.input
    ? (renderJson(step.input, ctx.params, ctx.secrets) as Record<string, unknown>)
    : ctx.params;
}

function runApiOf(ctx: StepContext) {
  if (!ctx.runApi)
    throw new ExecutorError(
      'api_unavailable',
      'spec-kit steps store artifacts and spec_docs through the API, and none is connected',
    );
  return ctx.runApi;
}

/** `spec-kit.generate`. */
export const specKitGenerateExecutor = defineExecutor(
  'spec-kit.generate',
  SpecKitGenerateStep,
  async (step, ctx) => {
    const raw = stepInput(step, ctx);
    let input;
    try {
      input = parseSpecKitInput(raw);
    } catch (err) {
      if (err instanceof SpecKitInputError) throw new ExecutorError('invalid_input', err.message);
      throw err;
    }
    const api = runApiOf(ctx);
    const project = typeof raw.project === 'string' && raw.project.trim() ? raw.project.trim() : input.name;
    const kit = generateSpecKit(input);
    const self = validateSpecKit(kit, 'generated');
    if (!self.valid)
      throw new ExecutorError(
        'generator_error',
        `the generated kit does not validate: ${formatProblems(self).join('; ')}`,
      );

    // The folder in the run directory (later steps can read it), and its zip as the last artifact.
    const slug = slugify(project);
    const dir = join(ctx.workdir, 'spec-kit', slug);
    await mkdir(dir, { recursive: true });
    const docs: { name: string; content: string; artifact_id: string }[] = [];
    for (const [name, content] of Object.entries(kit)) {
      await writeFile(join(dir, name), content);
      // Uploaded now, not after the step: each spec_docs row links to its artifact's id.
      const { id } = await api.uploadArtifact({ name: `${slug}/${name}`, kind: 'markdown', content });
      docs.push({ name, content, artifact_id: id });
    }
    const stored = await api.storeSpecDocs(project, docs);
    ctx.emit({
      level: 'info',
      type: 'spec-kit.stored',
      message: `spec_docs of ${project}: ${stored.map((d) => `${d.name} v${d.version}`).join(', ')}`,
      data: { project, spec_docs: stored.map((d) => ({ id: d.id, name: d.name, version: d.version })) },
    });
    const zipPath = join(ctx.workdir, 'spec-kit', `${slug}.zip`);
    await writeFile(zipPath, zipSpecKit(kit, slug));
    ctx.addArtifact({ name: `${slug}.zip`, kind: 'zip', path: zipPath });
    return stepResult.succeeded({
      project,
      files: Object.keys(kit),
      artifacts: Object.fromEntries(docs.map((d) => [d.name, d.artifact_id])),
      spec_docs: stored.map((d) => ({ id: d.id, name: d.name, version: d.version })),
      zip: `${slug}.zip`,
      requirements: self.summary.requirements,
      tasks: self.summary.tasks,
    });
  },
);

/** `spec-kit.validate`. */
export const specKitValidateExecutor = createSpecKitValidateExecutor();

/** `spec-kit.validate` with a policy for `git_url` sources (https only and public addresses by default). */
export function createSpecKitValidateExecutor(git: GitSourcePolicy = DEFAULT_GIT_POLICY) {
  return defineExecutor('spec-kit.validate', SpecKitValidateStep, (step, ctx, stop) =>
    validate(step, ctx, stop, git),
  );
}

async function validate(
  step: { input?: Record<string, unknown> },
  ctx: StepContext,
  stop: StepStop,
  git: GitSourcePolicy,
) {
  const { files, label } = await loadSpecKit(stepInput(step, ctx), ctx, stop.signal, git);
  const report = validateSpecKit(files, label);
  // Declared, not uploaded now: they go up after the step whether it passed or failed.
  ctx.addArtifact({ name: 'spec-kit-report.json', kind: 'json', content: JSON.stringify(report, null, 2) });
  ctx.addArtifact({ name: 'spec-kit-report.md', kind: 'markdown', content: renderReportMarkdown(report) });
  for (const problem of report.problems) {
    ctx.emit({
      level: problem.level === 'error' ? 'error' : 'warn',
      type: 'spec-kit.problem',
      message: `${problemLocation(problem)}: ${problem.code}: ${problem.message}`,
      data: { ...problem },
    });
  }
  const { summary } = report;
  ctx.emit({
    level: report.valid ? 'info' : 'error',
    type: 'spec-kit.report',
    message: `${label}: ${report.valid ? 'valid' : 'invalid'} — ${summary.errors} errors, ${summary.warnings} warnings, ${summary.requirements} requirements, ${summary.tasks} tasks`,
    data: { valid: report.valid, summary },
  });
  if (!report.valid) {
    return stepResult.failed(
      'spec_kit_invalid',
      `${label}: ${summary.errors} problem${summary.errors === 1 ? '' : 's'}; first: ${formatProblems({ ...report, problems: report.problems.filter((p) => p.level === 'error') })[0]}`,
    );
  }
  return stepResult.succeeded({ valid: true, source: label, summary });
}
