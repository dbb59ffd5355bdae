import { stringify } from 'yaml';
import type { Template } from '@ocr/client';

/** A template in the form files hold and `PUT /v1/templates/:name` takes (no version, no timestamps). */
export type TemplateDoc = Record<string, unknown> & { name: string };

const RETRY_DEFAULTS = { max_attempts: 1 };
const BACKOFF_DEFAULTS = { initial_s: 2, factor: 2, max_s: 60 };

/**
 * The template as the API will store and show it: the defaults the API fills in (its body schema's retry
 * defaults, and the wire's description, params schema, lane and retry) made explicit, so a file that leaves
 * them out compares equal to what the server holds. A `timeout_s` the API would store as none is left out.
 */
export function canonicalTemplate(input: Record<string, unknown>): TemplateDoc {
  const retry: Record<string, unknown> = { ...RETRY_DEFAULTS, ...(isObject(input.retry) ? input.retry : {}) };
  if (isObject(retry.backoff)) retry.backoff = { ...BACKOFF_DEFAULTS, ...retry.backoff };
  const out: Record<string, unknown> = {
    ...input,
    description: input.description ?? '',
    params_schema: input.params_schema ?? { type: 'object' },
    default_lane: input.default_lane ?? 'A',
    retry,
  };
  // The API stores no timeout for a missing (or falsy) one and shows it as null; a file cannot say null.
  if (!input.timeout_s) delete out.timeout_s;
  return ordered(out) as TemplateDoc;
}

/** A server template in file form: the wire's version and timestamps dropped. */
export function templateFromServer(template: Template): TemplateDoc {
  const { version: _version, created_at: _created, ...rest } = template;
  return canonicalTemplate(rest as Record<string, unknown>);
}

/** Do two templates mean the same (key order ignored)? */
export function sameTemplate(a: TemplateDoc, b: TemplateDoc): boolean {
  return JSON.stringify(sortedDeep(a)) === JSON.stringify(sortedDeep(b));
}

/** The stable YAML text of a template: the same template always gives the same bytes (clean git diffs). */
export function templateYaml(doc: TemplateDoc): string {
  return stringify(ordered(doc), { lineWidth: 0, aliasDuplicateObjects: false });
}

/** The stable JSON text of a template. */
export function templateJson(doc: TemplateDoc): string {
  return JSON.stringify(ordered(doc), null, 2) + '\n';
}

const TOP = ['name', 'description', 'params_schema', 'default_lane', 'timeout_s', 'retry', 'steps'];
const STEP_FIRST = ['name', 'kind'];
const STEP_LAST = ['env', 'timeout_s', 'artifacts'];
const SCHEMA_FIRST = ['$schema', '$id', 'title', 'description', 'type'];
const RETRY = ['max_attempts', 'backoff', 'initial_s', 'factor', 'max_s'];

/**
 * Keys in a fixed order so output never depends on the order the server (jsonb sorts keys by length) or an
 * author wrote them in: known keys first in a readable order, every other key alphabetically.
 */
function ordered(doc: Record<string, unknown>): Record<string, unknown> {
  const out = orderKeys(doc, TOP, []);
  if (isObject(out.params_schema)) out.params_schema = orderSchema(out.params_schema);
  if (isObject(out.retry)) out.retry = orderRetry(out.retry);
  if (Array.isArray(out.steps))
    out.steps = out.steps.map((step) =>
      isObject(step) ? mapValues(orderKeys(step, STEP_FIRST, STEP_LAST), sortedDeep) : sortedDeep(step),
    );
  for (const key of Object.keys(out))
    if (!['params_schema', 'retry', 'steps'].includes(key)) out[key] = sortedDeep(out[key]);
  return out;
}

function orderRetry(retry: Record<string, unknown>): Record<string, unknown> {
  const out = orderKeys(retry, RETRY, []);
  if (isObject(out.backoff)) out.backoff = orderKeys(out.backoff, RETRY, []);
  return mapValues(out, (v) => (isObject(v) ? v : sortedDeep(v)));
}

/** JSON Schema keys: the identifying ones first, every nested schema the same way. */
function orderSchema(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(orderSchema);
  if (!isObject(value)) return value;
  return mapValues(orderKeys(value, SCHEMA_FIRST, []), orderSchema);
}

function orderKeys(obj: Record<string, unknown>, first: string[], last: string[]): Record<string, unknown> {
  const keys = Object.keys(obj);
  const middle = keys.filter((k) => !first.includes(k) && !last.includes(k)).sort();
  const out: Record<string, unknown> = {};
  for (const key of [...first.filter((k) => k in obj), ...middle, ...last.filter((k) => k in obj)])
    if (obj[key] !== undefined) out[key] = obj[key];
  return out;
}

function sortedDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedDeep);
  if (!isObject(value)) return value;
  return mapValues(orderKeys(value, [], []), sortedDeep);
}

function mapValues(obj: Record<string, unknown>, fn: (v: unknown) => unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fn(v)]));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
