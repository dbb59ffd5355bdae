/** The format of a Spec Kit, as data: what the validator checks and the generator writes. */
import type { SpecFileName, TaskStatus } from './types.js';

/** `##` sections each file must have (matched case-insensitively, numbering and emphasis ignored). */
export const REQUIRED_SECTIONS: Record<SpecFileName, readonly string[]> = {
  'constitution.md': ['Purpose', 'Principles', 'Constraints', 'Governance'],
  'prd.md': ['Overview', 'Goals', 'Users', 'Requirements'],
  'plan.md': ['Phases', 'Dependencies'],
  'tasks.md': [],
};

/** A requirement heading in prd.md: `### R1: Title` (also `R1 —`, `R1.`, `R1 -`). */
export const REQUIREMENT_HEADING = /^(R\d+)(?:\s*[:.—–-]\s*|\s+)(.+)$/;
/** A requirement id anywhere in a task line: `R3`. */
export const REQUIREMENT_REF = /\bR\d+\b/g;
/** A task id at the start of a checkbox item: `T2`, `T2.1`, `T2.1.3`. */
export const TASK_ID = /^(T\d+(?:\.\d+)*)\b[\s:.—–-]*(.*)$/;
/** The acceptance-criteria label inside a requirement (a line or a heading). */
export const ACCEPTANCE_LABEL = /^acceptance criteria\b/i;
/** A user story: "As a(n) …, I want …". */
export const USER_STORY = /\bas an? .+?\bI want\b/i;

/** Checkbox characters and the task status each stands for. */
export const TASK_CHECKBOXES: Record<string, TaskStatus> = {
  ' ': 'todo',
  x: 'done',
  X: 'done',
  '~': 'in_progress',
  '!': 'blocked',
};

/** Does a heading name the required section? Word match, so "Goals and non-goals" is Goals but "Non-goals" is not. */
export function headingMatches(normalized: string, required: string): boolean {
  const word = required.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w-])${word}\\b`).test(normalized);
}
