/**
 * Rendering placeholders, each way safe for where it lands. Inside a shell script a placeholder becomes a
 * quoted reference to the value's environment variable (`shell-script.ts`); an argv element must be one
 * whole placeholder and becomes exactly one argument (`argv-analysis.ts`); environment values, headers and
 * JSON are data and get the value's text (URL-encoded inside URLs, JSON-typed where a whole JSON string is
 * one placeholder). `{{secrets.NAME}}` renders like a param, from the worker's secrets.
 */
import { analyzeArgv } from './argv-analysis.js';
import { ParamError } from './param-error.js';
import { paramText } from './param-text.js';
import { PLACEHOLDER_SOURCE } from './placeholders.js';
import { secretValue } from './url.js';

const WHOLE_PLACEHOLDER = new RegExp(`^${PLACEHOLDER_SOURCE}$`);

type Params = Record<string, unknown>;
type Secrets = Record<string, string>;

/**
 * A value as one POSIX shell word: single quotes, each embedded `'` closed, escaped and reopened. Safe only
 * where the word lands unquoted; scripts use `renderShellScript`, which never splices values.
 */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A plain string (environment value, header) with each placeholder replaced by its text. */
export function renderText(template: string, params: Params, secrets: Secrets = {}): string {
  return template.replace(new RegExp(PLACEHOLDER_SOURCE, 'g'), (_, ns: string, name: string) =>
    ns === 'secrets' ? secretValue(secrets, name) : paramText(params, name),
  );
}

/**
 * Every string inside a JSON value rendered; a string that is exactly one placeholder becomes the param
 * itself, keeping its JSON type (`"{{params.count}}"` → `3`).
 */
export function renderJson(value: unknown, params: Params, secrets: Secrets = {}): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_PLACEHOLDER.exec(value);
    if (whole) {
      if (whole[1] === 'secrets') return secretValue(secrets, whole[2]!);
      paramText(params, whole[2]!);
      return params[whole[2]!];
    }
    return renderText(value, params, secrets);
  }
  if (Array.isArray(value)) return value.map((item) => renderJson(item, params, secrets));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, renderJson(item, params, secrets)]),
    );
  return value;
}

/** Each value of an environment map rendered as text. */
export function renderEnv(
  env: Record<string, string> | undefined,
  params: Params,
  secrets: Secrets = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env ?? {})) out[key] = renderText(value, params, secrets);
  return out;
}

/**
 * An argv rendered: `argv[0]` is the program; an element that is one whole placeholder becomes the value,
 * as exactly one argument; anything else with a placeholder (part of an element, the program, an argument
 * of an interpreter such as `sh` or `python3`) is refused. Returns the elements from `from` on.
 */
export function renderArgv(
  argv: readonly string[],
  params: Params,
  secrets: Secrets = {},
  from = 0,
): string[] {
  const { refusals, whole } = analyzeArgv(argv);
  if (refusals.length > 0)
    throw new ParamError(
      'unsafe_placeholder',
      `argv element ${refusals[0]!.index - from}: ${refusals[0]!.message}`,
    );
  return argv.slice(from).map((arg, i) => {
    const p = whole.get(i + from);
    if (!p) return arg;
    return p.ns === 'secrets' ? secretValue(secrets, p.name) : paramText(params, p.name);
  });
}

/**
 * A container's `command` rendered behind the image's `entrypoint` (which is never rendered, but is read:
 * with no entrypoint the first command element is the program, and a shell entrypoint makes the command its
 * arguments, so the interpreter rule refuses placeholders there).
 */
export function renderContainerCommand(
  command: string[],
  params: Params,
  entrypoint: string[] = [],
  secrets: Secrets = {},
): string[] {
  return renderArgv([...entrypoint, ...command], params, secrets, entrypoint.length);
}
