/** The generator's input from loose data (run params, a YAML file, CLI flags), checked and normalised. */
import type { SpecKitInput } from './types.js';

/** The input could not make a kit; each problem names its field. */
export class SpecKitInputError extends Error {
  readonly code = 'invalid_spec_kit_input';
  constructor(readonly problems: string[]) {
    super(`invalid spec kit input: ${problems.join('; ')}`);
    this.name = 'SpecKitInputError';
  }
}

const MAX_ITEMS = 100;
const MAX_TEXT = 2_000;

/**
 * One line of plain text: whitespace collapsed and leading markdown markers dropped, so an input value can
 * never open a heading, a list item or a code fence and change the structure of the documents.
 */
export function oneLine(value: string): string {
  return value
    .replace(/\s+/g, ' ')
    .replace(/`{3,}|~{3,}/g, '')
    .replace(/^(?:[#>*+-]|\d+[.)])+\s*/, '')
    .trim()
    .slice(0, MAX_TEXT);
}

/** A list field: an array of strings, or one string with an item per line. */
function list(value: unknown, field: string, problems: string[]): string[] {
  if (value === undefined || value === null) return [];
  const raw = typeof value === 'string' ? value.split(/\r?\n/) : Array.isArray(value) ? value : undefined;
  if (!raw) {
    problems.push(`${field}: must be a list of strings or a string with one item per line`);
    return [];
  }
  const items: string[] = [];
  raw.forEach((item, i) => {
    if (typeof item !== 'string') problems.push(`${field}[${i}]: must be a string`);
    else if (oneLine(item)) items.push(oneLine(item));
  });
  if (items.length > MAX_ITEMS) problems.push(`${field}: at most ${MAX_ITEMS} items`);
  return items.slice(0, MAX_ITEMS);
}

function text(value: unknown, field: string, problems: string[]): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') {
    problems.push(`${field}: must be a string`);
    return '';
  }
  return oneLine(value);
}

/**
 * Check and normalise generator input. `name` and at least one goal are required (each goal becomes a
 * requirement); the rest may be empty. Also accepts `project` for `name`.
 */
export function parseSpecKitInput(value: unknown): SpecKitInput {
  const problems: string[] = [];
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new SpecKitInputError(['input: must be an object']);
  const source = value as Record<string, unknown>;
  const name = text(source.name ?? source.project, 'name', problems);
  if (!name && !problems.some((p) => p.startsWith('name'))) problems.push('name: is required');
  const input: SpecKitInput = {
    name,
    description: text(source.description, 'description', problems),
    goals: list(source.goals, 'goals', problems),
    users: list(source.users, 'users', problems),
    constraints: list(source.constraints, 'constraints', problems),
    milestones: list(source.milestones, 'milestones', problems),
  };
  if (input.goals.length === 0 && !problems.some((p) => p.startsWith('goals')))
    problems.push('goals: at least one goal is required (each becomes a requirement)');
  if (problems.length > 0) throw new SpecKitInputError(problems);
  return input;
}

/** A file-system-safe slug of a project name (the kit's folder in the zip). */
export function slugify(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'project'
  );
}
