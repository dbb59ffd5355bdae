import type { TObject, Static } from 'typebox';
import Value from 'typebox/value';
import { ConfigError } from './errors.js';

/** A cross-field rule: returns a problem line, or undefined when the config is fine. */
export type ConfigRule<T> = (config: T) => string | undefined;

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
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key];
    if (raw !== undefined && raw !== '') input[key] = raw;
  }
  const value = Value.Default(schema, Value.Convert(schema, input)) as Record<string, unknown>;
  const problems: string[] = [];
  for (const error of Value.Errors(schema, value)) {
    if (error.keyword === 'required') {
      const missing = (error.params as { requiredProperties?: string[] }).requiredProperties ?? [];
      for (const name of missing) problems.push(`${name}: is required`);
      continue;
    }
    const name = error.instancePath.replace(/^\//, '') || '(root)';
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
