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

/**
 * The nesting depth of a JSON text, counted without parsing (brackets outside strings), stopping as soon
 * as it passes `limit`. Linear and non-recursive: a body of 100,000 `[` costs one scan, not a stack.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > limit) return true;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return false;
}

/** What JSON.stringify writes for NUL (`\u0000`) and a lone surrogate (`\udXXX`, X ≥ 8): jsonb refuses both. */
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f])/;

/**
 * `JSON.stringify(sanitizeJson(value))` (undefined → null), without rebuilding the value when it is clean
 * already, which is the common case: stringify it as it is, and only when the text shows something to clean
 * (an escaped NUL or lone surrogate, nesting deeper than MAX_JSON_DEPTH) or stringify fails (too deep for
 * the stack, a cycle) take the cleaning path. A string that merely contains a backslash and `u0000` also
 * takes it, harmlessly.
 */
export function storableJsonText(value: unknown): string | null {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return JSON.stringify(sanitizeJson(value)) ?? null;
  }
  if (text === undefined) return null;
  if (!UNSTORABLE_ESCAPE.test(text) && !jsonDepthExceeds(text, MAX_JSON_DEPTH)) return text;
  return JSON.stringify(sanitizeJson(value)) ?? null;
}
