/** A param value as text, the one conversion every rendering shares. */
import { ParamError } from './param-error.js';

type Params = Record<string, unknown>;

/**
 * A param value as text: strings as they are, everything else as JSON. A missing param is an error rather
 * than an empty string: `rm -rf /{{params.dir}}` must not quietly become `rm -rf /`.
 */
export function paramText(params: Params, name: string): string {
  if (!Object.hasOwn(params, name) || params[name] === undefined)
    throw new ParamError(
      'param_missing',
      `the step uses {{params.${name}}} but the run has no param "${name}"`,
    );
  const value = params[name];
  const text = value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  // A NUL cannot travel in argv or the environment; refusing it beats silently cutting the value short.
  if (text.includes('\0')) throw new ParamError('param_invalid', `param "${name}" contains a NUL character`);
  return text;
}
