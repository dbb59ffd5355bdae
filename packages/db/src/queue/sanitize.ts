/**
 * Make any string storable in Postgres text/jsonb: NUL (rejected by both) and lone UTF-16 surrogates
 * (what invalid UTF-8 becomes on its way through JavaScript; rejected by jsonb) turn into U+FFFD.
 * Appends must never fail on what a program printed.
 */
export function sanitizeText(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.toWellFormed().replace(/\u0000/g, '\uFFFD');
}

/** `sanitizeText` applied to every string (keys too) of a JSON value. */
export function sanitizeJson(value: unknown): unknown {
  if (typeof value === 'string') return sanitizeText(value);
  if (Array.isArray(value)) return value.map(sanitizeJson);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[sanitizeText(key)] = sanitizeJson(inner);
    return out;
  }
  return value;
}
