import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import { getSession, getTemplate, type Database, type EnqueueInput, type TemplateRow } from '@ocr/db';
import {
  checkTemplatePlaceholders,
  paramValueProblems,
  type CreateRun,
  type TemplatePlacements,
} from '@ocr/contracts';
import { apiError } from './errors.js';
import type { TemplateDefinition } from './serialize.js';
import { createParamsAjv } from './validation.js';

const ajv = createParamsAjv();
type Validate = ReturnType<typeof ajv.compile>;
/**
 * Template versions whose compiled validator and param placements are kept: least recently used ones
 * are evicted (recompiled on their next use), so a long-lived API with many templates and versions stays
 * within a fixed memory bound.
 */
export const TEMPLATE_VERSIONS_CACHED = 1_000;
const compiled = new LRUCache<string, Validate>({
  max: TEMPLATE_VERSIONS_CACHED,
  // An evicted validator's schema leaves Ajv's own cache too, or Ajv would keep every schema it compiled.
  dispose: (validate) => ajv.removeSchema(validate.schema as object),
});

/** The params validator of a template version (compiled once; versions never change). */
export function paramsValidator(template: TemplateRow): Validate {
  const key = `${template.name}@${template.version}`;
  let validate = compiled.get(key);
  if (!validate) {
    const schema = (template.definition as TemplateDefinition).params_schema ?? { type: 'object' };
    try {
      validate = ajv.compile(schema);
    } catch (err) {
      // Saved before the API refused such schemas (e.g. a backtracking-only regex): not the caller's fault.
      throw apiError(
        'conflict',
        `template ${key}: its params_schema no longer compiles (${(err as Error).message}); save a new version`,
      );
    }
    compiled.set(key, validate);
  }
  return validate;
}

const placementsOf = new LRUCache<string, TemplatePlacements>({ max: TEMPLATE_VERSIONS_CACHED });

/** How many template versions each cache holds now (for tests and diagnostics). */
export function runFactoryCacheSizes(): { validators: number; placements: number } {
  return { validators: compiled.size, placements: placementsOf.size };
}

/**
 * Where a template version puts its params (bare arguments, where a leading `-` would be an option; Spec Kit
 * paths, where `..` would leave the kit's root); computed once per version.
 */
export function placements(template: TemplateRow): TemplatePlacements {
  const key = `${template.name}@${template.version}`;
  let found = placementsOf.get(key);
  if (!found) {
    const def = template.definition as TemplateDefinition;
    found = checkTemplatePlaceholders(def.steps ?? [], def.params_schema);
    placementsOf.set(key, found);
  }
  return found;
}

/** Check a params JSON Schema compiles; returns the problem, if any. */
export function checkParamsSchema(schema: unknown): string | undefined {
  try {
    ajv.compile(schema as object);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    // Ajv caches every schema object it compiled; a check must not grow that cache request by request.
    ajv.removeSchema(schema as object);
  }
}

/** An `Idempotency-Key` as the caller sent it, and the token it belongs to: keys never cross tokens. */
export interface Idempotency {
  key: string;
  tokenId: string;
}

/** JSON with object keys sorted, so two equal requests serialise the same whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The stored form of an idempotency key for an action that creates no run (cancel): the token, the key and
 * the action, hashed, since it is kept where viewers can read it.
 */
export function actionKey(idempotency: Idempotency, action: string): string {
  return createHash('sha256').update(`${idempotency.tokenId}\0${idempotency.key}\0${action}`).digest('hex');
}

/** What identifies one create request (an item of a batch: with its position and the batch size). */
export function requestFingerprint(
  request: CreateRun | { retry_of: string },
  index: number,
  count: number,
): string {
  return createHash('sha256').update(canonical({ request, index, count })).digest('hex');
}

/**
 * Turn create-run requests into queue inputs: resolve each template's latest version, validate params
 * against its schema (defaults applied), and take lane, retry policy and timeout from the template unless
 * the request overrides them. Any problem rejects the whole request before anything is written.
 */
export async function prepareRuns(
  db: Kysely<Database>,
  requests: CreateRun[],
  idempotency?: Idempotency,
): Promise<EnqueueInput[]> {
  const templates = new Map<string, TemplateRow>();
  const sessions = new Set<string>();
  const prepared: EnqueueInput[] = [];
  for (const [index, request] of requests.entries()) {
    const at = requests.length > 1 ? `runs[${index}].` : '';
    let template = templates.get(request.template);
    if (!template) {
      template = await getTemplate(db, request.template);
      if (!template)
        throw apiError('not_found', `${at}template: no template named ${request.template}`, [
          { field: `${at}template`, message: 'not found' },
        ]);
      templates.set(request.template, template);
    }
    const params = structuredClone(request.params ?? {});
    const validate = paramsValidator(template);
    if (!validate(params)) {
      const details = (validate.errors ?? []).map((e) => ({
        field: `${at}params${e.instancePath.replace(/\//g, '.')}${e.params && 'missingProperty' in e.params ? `.${String(e.params.missingProperty)}` : ''}`,
        message: e.message ?? 'is invalid',
      }));
      throw apiError(
        'validation_failed',
        `${details[0]?.field ?? 'params'}: ${details[0]?.message ?? 'invalid'}`,
        details,
      );
    }
    const valueProblems = paramValueProblems(
      params,
      (template.definition as TemplateDefinition).params_schema,
      placements(template),
    ).map((p) => ({ ...p, field: `${at}${p.field}` }));
    if (valueProblems.length > 0)
      throw apiError(
        'validation_failed',
        `${valueProblems[0]!.field}: ${valueProblems[0]!.message}`,
        valueProblems,
      );
    if (request.session_id && !sessions.has(request.session_id)) {
      const session = await getSession(db, request.session_id);
      if (!session)
        throw apiError('not_found', `${at}session_id: no such session`, [
          { field: `${at}session_id`, message: 'not found' },
        ]);
      if (session.status !== 'open') throw apiError('conflict', `${at}session_id: session is closed`);
      sessions.add(request.session_id);
    }
    const def = template.definition as TemplateDefinition;
    prepared.push({
      template: template.name,
      template_version: template.version,
      lane: request.lane ?? def.default_lane ?? 'A',
      params,
      priority: request.priority ?? 0,
      labels: request.labels ?? {},
      max_attempts: request.max_attempts ?? def.retry?.max_attempts ?? 1,
      retry_policy: { initial_s: 2, factor: 2, max_s: 60, ...(def.retry?.backoff ?? {}) },
      timeout_s: def.timeout_s ?? null,
      run_at: request.run_at ?? null,
      delay_s: request.delay_s ?? null,
      session_id: request.session_id ?? null,
      idempotency_key: idempotency
        ? `${idempotency.tokenId}:${idempotency.key}${requests.length > 1 ? `:${index}` : ''}`
        : null,
      idempotency_fingerprint: idempotency ? requestFingerprint(request, index, requests.length) : null,
    });
  }
  return prepared;
}
