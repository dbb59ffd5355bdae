/**
 * The generator: pure and deterministic. From a project's name, description, goals, users, constraints and
 * milestones it writes the four documents so that they validate: one requirement per goal (user story and
 * acceptance criteria), one plan phase per milestone, and tasks that trace every requirement.
 */
import { parseSpecKitInput } from './input.js';
import type { SpecFileName, SpecKitInput } from './types.js';

/** The four documents of a generated kit. */
export type GeneratedSpecKit = Record<SpecFileName, string>;

const DEFAULT_PHASES = ['Foundation', 'Build', 'Release'];

const PRINCIPLES = [
  '**Specification first.** Every change starts from a requirement in prd.md and a task in tasks.md.',
  '**Traceability.** Every requirement is traced to at least one task; every task names the requirements it serves.',
  '**Verifiable outcomes.** A requirement is done when its acceptance criteria are demonstrated by tests.',
  '**Small increments.** Work lands in small, reviewed steps that each leave the product working.',
  '**Secure by default.** Inputs are validated, secrets are never logged, and access is least-privilege.',
];

interface Requirement {
  id: string;
  goal: string;
  user: string;
  phase: number;
}

/** Lower-case the first letter so a goal reads inside a sentence ("I want to …"). */
function inSentence(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1).replace(/[.!]+$/, '');
}

/** "a release engineer", "an operator"; a phrase that already has an article is kept. */
function withArticle(user: string): string {
  if (/^(a|an|the|every|any)\s/i.test(user)) return user;
  return /^[aeio]/i.test(user) ? `an ${user}` : `a ${user}`;
}

function bullets(items: string[], fallback: string): string {
  return (items.length > 0 ? items : [fallback]).map((item) => `- ${item}`).join('\n');
}

/** A goal inside a task line, its own `R<n>`-like words defused so they are not read as traces. */
function unref(text: string): string {
  return text.replace(/\bR(\d+)\b/g, 'R-$1');
}

/** Spread requirements over phases in order, as evenly as possible (earlier phases get the remainder). */
function plan(input: SpecKitInput): { phases: string[]; requirements: Requirement[] } {
  const phases = input.milestones.length > 0 ? input.milestones : DEFAULT_PHASES;
  const users = input.users.length > 0 ? input.users : ['user'];
  const requirements = input.goals.map((goal, i) => ({
    id: `R${i + 1}`,
    goal,
    user: users[i % users.length]!,
    phase: Math.min(phases.length - 1, Math.floor((i * phases.length) / input.goals.length)),
  }));
  return { phases, requirements };
}

function constitution(input: SpecKitInput): string {
  return `# ${input.name} — Constitution

The principles every decision about ${input.name} is held to. The PRD, the plan and the tasks follow from them.

## Purpose

${input.description || `${input.name} exists to meet the goals listed in prd.md.`}

## Principles

${PRINCIPLES.map((p, i) => `${i + 1}. ${p}`).join('\n')}

## Constraints

${bullets(input.constraints, 'No constraints were stated when this kit was generated; record them here as they are agreed.')}

## Governance

- This constitution changes only by a reviewed change to this file that states why.
- prd.md, plan.md and tasks.md are kept consistent with it; the Spec Kit validator runs on every change.
- When a document and this constitution disagree, this constitution wins until it is amended.
`;
}

function prd(input: SpecKitInput, requirements: Requirement[]): string {
  const blocks = requirements.map((r) =>
    `### ${r.id}: ${r.goal}

**User story:** As ${withArticle(r.user)}, I want to ${inSentence(r.goal)}, so that ${input.name} delivers on its purpose.

**Acceptance criteria:**
- Given ${input.name} is running, when ${withArticle(r.user)} works towards "${r.goal}", then the outcome is visible to them without manual steps.
- The behaviour is covered by an automated test that fails when it regresses.
${input.constraints.map((c) => `- It respects the constraint: ${c}`).join('\n')}`.trimEnd(),
  );
  return `# ${input.name} — Product Requirements

## Overview

${input.description || `${input.name}: the goals below, for the users below.`}

## Goals

${bullets(input.goals, 'No goals stated.')}

## Users

${bullets(input.users, 'Users are not identified yet.')}

## Requirements

Each requirement has an id (\`R<n>\`), a user story and acceptance criteria; tasks.md traces every one.

${blocks.join('\n\n')}
`;
}

function planDoc(input: SpecKitInput, phases: string[], requirements: Requirement[]): string {
  const sections = phases.map((name, k) => {
    const delivers = requirements.filter((r) => r.phase === k);
    return `### Phase ${k + 1} — ${name}

${delivers.length > 0 ? `Delivers ${delivers.map((r) => r.id).join(', ')}:\n\n${delivers.map((r) => `- ${r.id}: ${r.goal}`).join('\n')}` : 'Hardening, documentation and release of what the earlier phases built.'}

Exit: every task of this phase in tasks.md is done and its acceptance criteria are demonstrated.`;
  });
  const dependencies = phases.map((name, k) =>
    k === 0
      ? `- Phase 1 (${name}) depends on nothing.`
      : `- Phase ${k + 1} (${name}) depends on Phase ${k} (${phases[k - 1]}).`,
  );
  return `# ${input.name} — Plan

## Approach

Phases run in order; each ends at a milestone. Requirement ids refer to prd.md, task ids to tasks.md.

## Phases

${sections.join('\n\n')}

## Dependencies

${dependencies.join('\n')}

## Milestones

${phases.map((name, k) => `- M${k + 1}: ${name} — Phase ${k + 1} complete.`).join('\n')}

## Risks

${bullets(
  input.constraints.map((c) => `Constraint "${c}" may limit the design; check it in every phase review.`),
  'No risks recorded yet.',
)}
`;
}

function tasksDoc(input: SpecKitInput, phases: string[], requirements: Requirement[]): string {
  const groups = phases.map((name, k) => {
    const lines: string[] = [];
    let n = 0;
    const task = (text: string) => lines.push(`- [ ] T${k + 1}.${++n} ${text}`);
    if (k === 0) task('Set up the repository, CI and the Spec Kit validation check');
    for (const r of requirements.filter((req) => req.phase === k)) {
      task(`Build: ${unref(r.goal)} (${r.id})`);
      task(`Test: acceptance criteria of ${r.id} (${r.id})`);
    }
    if (k === phases.length - 1) task('Document and release');
    return `## Phase ${k + 1} — ${name}\n\n${lines.join('\n')}`;
  });
  return `# ${input.name} — Tasks

## Legend

- Status: \`[ ]\` not started, \`[~]\` in progress, \`[x]\` done, \`[!]\` blocked.
- Each task has an id (\`T<phase>.<n>\`) and names the requirements it serves (\`R<n>\`).

${groups.join('\n\n')}
`;
}

/** Generate the four documents. Throws `SpecKitInputError` when the input cannot make a kit. */
export function generateSpecKit(raw: SpecKitInput | Record<string, unknown>): GeneratedSpecKit {
  const input = parseSpecKitInput(raw);
  const { phases, requirements } = plan(input);
  return {
    'constitution.md': constitution(input),
    'prd.md': prd(input, requirements),
    'plan.md': planDoc(input, phases, requirements),
    'tasks.md': tasksDoc(input, phases, requirements),
  };
}
