/**
 * Spec Kit: a project specified by four documents (constitution, PRD, plan, tasks). The generator writes
 * them from a few inputs; the validator checks their structure and traceability and reports each problem
 * with file and line. Used by `ocr spec`, by CI and by the worker's `spec-kit.*` steps.
 */
export * from './types.js';
export { REQUIRED_SECTIONS, TASK_CHECKBOXES } from './rules.js';
export { parseSpecKitInput, slugify, SpecKitInputError } from './input.js';
export { generateSpecKit, type GeneratedSpecKit } from './generate.js';
export { validateSpecKit } from './validate.js';
export { formatProblems, problemLocation, renderReportMarkdown } from './report.js';
export { unzipSpecKit, zipSpecKit, SpecKitZipError } from './zip.js';
export { readSpecKitDir, writeSpecKitDir, SpecKitDirError } from './files.js';
