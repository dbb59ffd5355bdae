/**
 * `{{params.x}}` (and `{{secrets.NAME}}`) in a shell script, rendered so that no value can ever become
 * shell syntax. The script is analyzed first (`shell-analysis.ts`): a placeholder anywhere but an allowed
 * position is refused (`unsafe_placeholder`, with line and column), so what is rendered is only:
 *
 *   an ordinary word, unquoted      → "${OCR_PARAM_X}"
 *   inside "…"                      → ${OCR_PARAM_X}
 *   a here-document read by cat/tee → ${OCR_PARAM_X}
 *   an arithmetic context           → the value's digits, only when the value is an integer
 *
 * The value itself reaches the script as the `OCR_PARAM_X` (or `OCR_SECRET_X`) environment variable, and
 * the result of a parameter expansion is never parsed again as shell code.
 */
import { ParamError } from './param-error.js';
import { paramEnvName } from './env.js';
import { paramText } from './param-text.js';
import { secretEnvName } from './placeholders.js';
import { analyzeShellScript, lineColumn } from './shell-analysis.js';

type Params = Record<string, unknown>;

/** The environment variable a param placeholder refers to; the param must exist and its name must not collide. */
function variableFor(name: string, params: Params): string {
  paramText(params, name);
  const variable = paramEnvName(name);
  const other = Object.keys(params).find(
    (key) => key !== name && params[key] !== undefined && paramEnvName(key) === variable,
  );
  if (other !== undefined)
    throw new ParamError(
      'param_name_collision',
      `params "${name}" and "${other}" share the variable ${variable}; rename one`,
    );
  return variable;
}

/** A shell script with each placeholder replaced by a safely quoted reference to its variable. */
export function renderShellScript(
  script: string,
  params: Params,
  secrets: Record<string, string> = {},
): string {
  const { placements, refusals } = analyzeShellScript(script);
  if (refusals.length > 0) {
    const first = refusals[0]!;
    const { line, column } = lineColumn(script, first.start);
    throw new ParamError('unsafe_placeholder', `line ${line}, column ${column}: ${first.message}`);
  }
  let out = '';
  let last = 0;
  for (const p of placements) {
    let variable: string;
    if (p.ns === 'secrets') {
      if (!Object.hasOwn(secrets, p.name))
        throw new ParamError(
          'secret_missing',
          `the step uses {{secrets.${p.name}}} but this worker has no secret "${p.name}"`,
        );
      variable = secretEnvName(p.name);
    } else variable = variableFor(p.name, params);
    let text: string;
    if (p.mode === 'int') {
      const value = paramText(params, p.name);
      // bash evaluates variable text in arithmetic recursively (`a[$(cmd)]`): only digits may stand there.
      if (!/^-?\d{1,18}$/.test(value))
        throw new ParamError(
          'unsafe_placeholder',
          `{{params.${p.name}}} is used in an arithmetic context but its value is not an integer`,
        );
      text = value;
    } else text = p.mode === 'word' ? `"\${${variable}}"` : `\${${variable}}`;
    out += script.slice(last, p.start) + text;
    last = p.end;
  }
  return out + script.slice(last);
}
