/** The defaults a params schema declares, as a starting params object. */
export function defaultsOf(schema: Record<string, unknown>): Record<string, unknown> {
  const props = (schema.properties ?? {}) as Record<string, { default?: unknown }>;
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(props)) if (p && p.default !== undefined) out[k] = p.default;
  return out;
}
