/** The shapes of a Spec Kit: its files, the generator's input, and the validator's report. */

/** The four documents of a kit, in reading order. */
export const SPEC_FILES = ['constitution.md', 'prd.md', 'plan.md', 'tasks.md'] as const;
export type SpecFileName = (typeof SPEC_FILES)[number];

/** A kit in memory: file name → markdown. Extra files are kept but not checked. */
export type SpecKitFiles = Record<string, string>;

/** What the generator needs to write a kit. */
export interface SpecKitInput {
  /** Project name, used in every title. */
  name: string;
  description: string;
  /** One requirement is written per goal. */
  goals: string[];
  /** Who the product is for; user stories are written for them in turn. */
  users: string[];
  constraints: string[];
  /** One plan phase per milestone (three default phases when none are given). */
  milestones: string[];
}

/** How serious a problem is: errors make a kit invalid, warnings do not. */
export type ProblemLevel = 'error' | 'warning';

/**
 * Stable problem codes (CI, the console and tests switch on these; docs/spec-kit.md lists them).
 */
export type ProblemCode =
  | 'missing_file'
  | 'empty_file'
  | 'missing_title'
  | 'missing_section'
  | 'empty_section'
  | 'no_requirements'
  | 'requirement_without_id'
  | 'duplicate_requirement_id'
  | 'missing_acceptance_criteria'
  | 'missing_user_story'
  | 'no_phases'
  | 'no_tasks'
  | 'task_without_id'
  | 'duplicate_task_id'
  | 'invalid_task_status'
  | 'unknown_requirement'
  | 'untraced_requirement';

/** One finding: where (file and 1-based line; null when the file itself is missing) and what. */
export interface Problem {
  level: ProblemLevel;
  code: ProblemCode;
  file: string;
  line: number | null;
  message: string;
}

/** A task's state, from its checkbox: `[ ]`, `[~]`, `[x]`, `[!]`. */
export type TaskStatus = 'todo' | 'in_progress' | 'done' | 'blocked';

/** A requirement found in prd.md. */
export interface RequirementInfo {
  id: string;
  title: string;
  line: number;
  acceptance_criteria: number;
  user_story: boolean;
  /** Ids of the tasks that trace to it. */
  tasks: string[];
}

/** A task found in tasks.md. */
export interface TaskInfo {
  id: string;
  title: string;
  status: TaskStatus;
  line: number;
  /** Requirement ids the task names. */
  requirements: string[];
}

/** The validator's verdict, as JSON (the CLI's `--json`, the worker's report artifact). */
export interface ValidationReport {
  valid: boolean;
  /** A label for the kit: a directory, an artifact, a project. */
  source: string;
  files: { name: string; present: boolean; lines: number }[];
  summary: {
    errors: number;
    warnings: number;
    requirements: number;
    traced_requirements: number;
    tasks: number;
    tasks_by_status: Record<TaskStatus, number>;
  };
  requirements: RequirementInfo[];
  tasks: TaskInfo[];
  problems: Problem[];
}
