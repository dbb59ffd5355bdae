/**
 * What a step prints reaches Postgres text/jsonb, which refuse NUL (both) and lone UTF-16 surrogates (what
 * invalid UTF-8 becomes on its way through JavaScript; jsonb). JSON nested thousands of levels deep cannot
 * even be serialised by JSON.stringify. Output is therefore cleaned, never refused: the worker cleans what
 * it sends and the API cleans again what it stores, with the same rules (documented in docs/api.md).
 */

/** JSON deeper than this is cut: the deeper value becomes the string TOO_DEEP. */
export const MAX_JSON_DEPTH = 64;
export const TOO_DEEP = '[truncated: nested deeper than 64 levels]';

/** NUL and lone surrogates become U+FFFD; everything else is kept. */
export function sanitizeText(value: string): string {
  // Most text is clean already: two scans, no copy.
  if (value.isWellFormed() && !value.includes('\u0000')) return value;
  // eslint-disable-next-line no-control-regex
  return value.toWellFormed().replace(/\u0000/g, '\uFFFD');
}

/**
 * `sanitizeText` applied to every string (keys too) of a JSON value, values nested deeper than
 * MAX_JSON_DEPTH replaced by TOO_DEEP, and what JSON cannot carry (functions, undefined members) dropped as
 * JSON.stringify would. Recursion stops at the depth limit, so any input is safe.
 */
export function sanitizeJson(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return sanitizeText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_JSON_DEPTH) return TOO_DEEP;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
    return sanitizeJson((value as { toJSON: () => unknown }).toJSON(), depth);
  if (Array.isArray(value)) return value.map((item) => sanitizeJson(item, depth + 1));
  const out: Record<string, unknown> = {};
  // Object.keys, not entries: the same own enumerable keys, without a pair array per member.
  for (const key of Object.keys(value))
    out[sanitizeText(key)] = sanitizeJson((value as Record<string, unknown>)[key], depth + 1);
  return out;
}
