/**
 * Rendering `{{params.x}}` placeholders in template steps. Pure, shared by the API's preview and the
 * worker. The rule that keeps params from ever becoming shell syntax: in shell scripts a placeholder
 * becomes a single-quoted shell word; everywhere else it becomes the value's text (JSON for non-strings).
 * Shell and docker steps also get every param as `OCR_PARAM_<NAME>` environment variables.
 */

const PLACEHOLDER = /\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** A value as one POSIX shell word: single quotes, with embedded quotes closed, escaped, reopened. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Replace placeholders in a shell script with shell-quoted words. */
export function renderShell(script: string, params: Record<string, unknown>): string {
  return script.replace(PLACEHOLDER, (_, name: string) => shellQuote(text(params[name])));
}

/** Replace placeholders in a plain string (URLs get their values percent-encoded). */
export function renderString(value: string, params: Record<string, unknown>, options: { url?: boolean } = {}): string {
  return value.replace(PLACEHOLDER, (_, name: string) => (options.url ? encodeURIComponent(text(params[name])) : text(params[name])));
}

/** Render every string inside a JSON value; a string that is exactly one placeholder keeps the value's type. */
export function renderJson(value: unknown, params: Record<string, unknown>): unknown {
  if (typeof value === 'string') {
    const whole = /^\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/.exec(value);
    if (whole) return params[whole[1]!] ?? null;
    return renderString(value, params);
  }
  if (Array.isArray(value)) return value.map((v) => renderJson(v, params));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderJson(v, params)]));
  return value;
}

/** `OCR_PARAM_<NAME>` variables: names upper-cased, other characters to `_`; values as text. */
export function paramEnv(params: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) env[`OCR_PARAM_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = text(value);
  return env;
}

/** A step with its placeholders rendered the way its executor will see them. */
export function renderStep(step: Record<string, unknown>, params: Record<string, unknown>): Record<string, unknown> {
  switch (step.kind) {
    case 'shell':
      return { ...step, script: renderShell(String(step.script ?? ''), params) };
    case 'docker':
      return { ...step, command: Array.isArray(step.command) ? step.command.map((c) => renderString(String(c), params)) : step.command };
    case 'http':
      return {
        ...step,
        url: renderString(String(step.url ?? ''), params, { url: true }),
        headers: renderJson(step.headers, params),
        body: renderJson(step.body, params),
      };
    default:
      return renderJson(step, params) as Record<string, unknown>;
  }
}

const SECRET_NAME = /(secret|token|password|passwd|api[_-]?key|credential)/i;

/** Params with secret-looking values masked (by schema `writeOnly`/`format: password`, or by name). */
export function maskSecrets(params: Record<string, unknown>, schema?: { properties?: Record<string, { writeOnly?: boolean; format?: string }> }): Record<string, unknown> {
  const masked: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    const prop = schema?.properties?.[name];
    const secret = prop?.writeOnly || prop?.format === 'password' || SECRET_NAME.test(name);
    masked[name] = secret && value !== undefined && value !== null ? '••••••' : value;
  }
  return masked;
}
