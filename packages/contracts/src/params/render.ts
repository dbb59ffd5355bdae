/**
 * Rendering `{{params.x}}` placeholders, each way safe for where it lands. The rule that keeps params from
 * ever becoming shell syntax: inside a shell script a placeholder becomes a quoted reference to the param's
 * environment variable (see `shell-script.ts`); argv elements, environment values and HTTP/MCP fields are
 * data, so they get the value's text (URL-encoded inside URLs, JSON-typed where a whole JSON string is one
 * placeholder).
 */
import { paramText } from './param-text.js';
import { renderShellScript } from './shell-script.js';

const PLACEHOLDER = /\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const WHOLE_PLACEHOLDER = /^\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/;

type Params = Record<string, unknown>;

/**
 * A value as one POSIX shell word: single quotes, each embedded `'` closed, escaped and reopened. Safe only
 * where the word lands unquoted; scripts use `renderShellScript`, which is safe in every context.
 */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A plain string (argv element, environment value, header) with each placeholder replaced by its text. */
export function renderText(template: string, params: Params): string {
  return template.replace(PLACEHOLDER, (_, name: string) => paramText(params, name));
}

/** A URL with each placeholder percent-encoded, so a value can't add path segments, a query or a host. */
export function renderUrl(template: string, params: Params): string {
  return template.replace(PLACEHOLDER, (_, name: string) => encodeURIComponent(paramText(params, name)));
}

/**
 * Every string inside a JSON value rendered; a string that is exactly one placeholder becomes the param
 * itself, keeping its JSON type (`"{{params.count}}"` → `3`).
 */
export function renderJson(value: unknown, params: Params): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_PLACEHOLDER.exec(value);
    if (whole) {
      paramText(params, whole[1]!);
      return params[whole[1]!];
    }
    return renderText(value, params);
  }
  if (Array.isArray(value)) return value.map((item) => renderJson(item, params));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderJson(item, params)]));
  return value;
}

/** Each value of an environment map rendered as text. */
export function renderEnv(env: Record<string, string> | undefined, params: Params): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env ?? {})) out[key] = renderText(value, params);
  return out;
}

const SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', 'ksh', 'mksh', 'busybox']);
// `-c`, and combined short flags that include it (`-ec`, `-lc`, `-xeuc`).
const COMMAND_FLAG = /^-[A-Za-z]*c[A-Za-z]*$/;

/**
 * A container's argv rendered. Elements are argv, not shell, so they get plain text — except the script of
 * a shell invocation (`sh -c SCRIPT`, also behind `env`, `timeout`, … or in the image's entrypoint), which
 * is rendered exactly as a shell step's script (the container gets the `OCR_PARAM_*` variables too). `entrypoint` is never rendered (it
 * comes from the image) but is read to spot a shell that will run the first command element as a script.
 */
export function renderContainerCommand(command: string[], params: Params, entrypoint: string[] = []): string[] {
  const argv = [...entrypoint, ...command];
  const scripts = new Set<number>();
  let shellSeen = false;
  for (const [index, arg] of argv.entries()) {
    if (SHELLS.has(arg.slice(arg.lastIndexOf('/') + 1))) shellSeen = true;
    else if (shellSeen && COMMAND_FLAG.test(arg)) {
      scripts.add(index + 1);
      shellSeen = false;
    }
  }
  return command.map((arg, i) => (scripts.has(i + entrypoint.length) ? renderShellScript(arg, params) : renderText(arg, params)));
}
