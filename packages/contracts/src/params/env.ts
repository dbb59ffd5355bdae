/**
 * Params as environment variables: the way a script should read them (`"$OCR_PARAM_ENV"`), since a value
 * in a variable is never parsed as shell syntax.
 */
import { paramText } from './param-text.js';

/** `OCR_PARAM_<NAME>`: the name upper-cased, every character outside A–Z and 0–9 turned into `_`. */
export function paramEnvName(name: string): string {
  return `OCR_PARAM_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** Every param as an `OCR_PARAM_<NAME>` variable; values as text (JSON for non-strings). */
export function paramEnv(params: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of Object.keys(params)) {
    if (params[name] === undefined) continue;
    env[paramEnvName(name)] = paramText(params, name);
  }
  return env;
}
