/** A small valid kit for validator tests; each test breaks one thing in it. */
import type { SpecKitFiles } from '../src/index.js';

export function validKit(): SpecKitFiles {
  return {
    'constitution.md': `# Demo — Constitution

## Purpose

Demo things.

## Principles

1. Keep it small.

## Constraints

- Node 20

## Governance

Changes are reviewed.
`,
    'prd.md': `# Demo — PRD

## Overview

A demo.

## Goals

- Do one thing

## Users

- operators

## Requirements

### R1: Do one thing

**User story:** As an operator, I want to do one thing, so that it is done.

**Acceptance criteria:**
- Given a thing, when I do it, then it is done.

### R2 — Do another thing

As an operator, I want another thing.

Acceptance criteria:

- It is done too.
`,
    'plan.md': `# Demo — Plan

## Phases

### Phase 1 — All of it

Everything.

## Dependencies

- None.
`,
    'tasks.md': `# Demo — Tasks

## Phase 1

- [x] T1.1 Do one thing (R1)
  - [~] T1.1.1 Part of it (R1)
- [ ] T1.2 Do another (R2)

\`\`\`md
- [ ] not a task: inside a code fence
\`\`\`
`,
  };
}
