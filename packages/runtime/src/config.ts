import type { TObject, Static } from 'typebox';
import Value from 'typebox/value';
import { ConfigError } from './errors.js';

/** A cross-field rule: returns a problem line, or undefined when the config is fine. */
export type ConfigRule<T> = (config: T) => string | undefined;

/** Whole decimal numbers only: TypeBox's conversion would truncate `1.5` to 1 and read `0x10` as 16. */
const INTEGER = /^[+-]?\d+$/;
/** Plain decimal notation (exponent allowed); no hex, no `Infinity`, no surrounding spaces. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The problem with a numeric variable's text, before any conversion could hide it. */
function numericProblem(schema: { type?: unknown }, raw: string): string | undefined {
  if (schema.type === 'integer' && !INTEGER.test(raw)) return 'must be an integer, digits only';
  if (schema.type === 'number' && !NUMBER.test(raw)) return 'must be a decimal number';
  return undefined;
}

/**
 * Parse environment variables against a TypeBox object schema, completely and once: defaults applied,
 * strings coerced, every bad variable reported on its own line, then the result frozen.
 * Empty strings count as unset so `FOO=` in a shell does not override a default with garbage.
 */
export function loadConfig<S extends TObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
  rules: ConfigRule<Static<S>>[] = [],
): Readonly<Static<S>> {
  const input: Record<string, unknown> = {};
  const problems: string[] = [];
  const rejected = new Set<string>();
  for (const [key, property] of Object.entries(schema.properties)) {
    const raw = env[key];
    if (raw === undefined || raw === '') continue;
    const problem = numericProblem(property as { type?: unknown }, raw);
    if (problem) {
      problems.push(`${key}: ${problem} (got ${JSON.stringify(raw)})`);
      rejected.add(key);
    } else input[key] = raw;
  }
  const value = Value.Default(schema, Value.Convert(schema, input)) as Record<string, unknown>;
  for (const error of Value.Errors(schema, value)) {
    if (error.keyword === 'required') {
      const missing = (error.params as { requiredProperties?: string[] }).requiredProperties ?? [];
      for (const name of missing) if (!rejected.has(name)) problems.push(`${name}: is required`);
      continue;
    }
    const name = error.instancePath.replace(/^\//, '') || '(root)';
    // Already reported above; its default stood in only so the other variables could be judged.
    if (rejected.has(name)) continue;
    const shown = env[name] === undefined ? '' : ` (got ${JSON.stringify(env[name])})`;
    problems.push(`${name}: ${error.message}${shown}`);
  }
  if (problems.length === 0) {
    for (const rule of rules) {
      const problem = rule(value as Static<S>);
      if (problem) problems.push(problem);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(value) as Readonly<Static<S>>;
}
