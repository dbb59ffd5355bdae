/**
 * Secret values masked before anything leaves the worker, as CI systems do: the values of params the
 * template marks secret (the claim names them) are replaced by `••••` in every event (output lines,
 * messages, data), in text artifacts, and in the run's error and output. Values shorter than 3 characters
 * are not masked (they would blank ordinary output); each line of a multi-line value is masked on its own,
 * since output is sent line by line. Binary artifacts and files larger than the inline limit are not scanned.
 */
import { paramText } from '@ocr/contracts';

export const MASK = '••••';

/** Masks secret values in a text. */
export type Masker = (text: string) => string;

/** The masker of a run without secret values: changes nothing, so JSON is not even walked (`maskJson`). */
export const noMask: Masker = (text) => text;

/** A masking function for these values, or `noMask` when there are none. */
export function createMasker(values: readonly string[]): Masker {
  if (values.length === 0) return noMask;
  const parts = new Set<string>();
  for (const value of values) {
    if (value.length >= 3) parts.add(value);
    for (const line of value.split(/\r?\n/)) if (line.trim().length >= 3) parts.add(line);
  }
  if (parts.size === 0) return noMask;
  // Longest first, so a value containing another is masked whole.
  const sorted = [...parts].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const part of sorted) if (out.includes(part)) out = out.split(part).join(MASK);
    return out;
  };
}

/** The text values of a run's secret params (strings as they are, other JSON as its text). */
export function secretParamValues(params: Record<string, unknown>, names: readonly string[]): string[] {
  return names
    .filter((name) => params[name] !== undefined && params[name] !== null)
    .map((name) => paramText(params, name));
}

/** Every string inside a JSON value masked (keys too: a secret can end up as a key of a tool's output). */
export function maskJson<T>(value: T, mask: Masker): T {
  if (mask === noMask) return value;
  if (typeof value === 'string') return mask(value) as T;
  if (Array.isArray(value)) return value.map((v) => maskJson(v, mask)) as T;
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [mask(k), maskJson(v, mask)])) as T;
  return value;
}
