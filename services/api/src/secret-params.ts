/**
 * Params a template marks secret (`writeOnly: true` or `format: "password"` in `params_schema`) never leave
 * the API in clear: every route and stream message that shows a run shows them as `••••`. Only the worker
 * protocol's claim hands the real value to the worker that runs the step. Which params are secret is read
 * from the run's template version (immutable, so cached per database).
 */
import type { Kysely } from 'kysely';
import { getTemplate, type Database, type RunRow } from '@ocr/db';
import { secretParamNames } from '@ocr/contracts';

const caches = new WeakMap<object, Map<string, ReadonlySet<string>>>();

/** The secret param names of a run's template version. */
export async function secretParamsOf(
  db: Kysely<Database>,
  run: Pick<RunRow, 'template' | 'template_version'>,
): Promise<ReadonlySet<string>> {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  const key = `${run.template}@${run.template_version}`;
  let names = cache.get(key);
  if (!names) {
    const template = await getTemplate(db, run.template, run.template_version);
    names = secretParamNames(
      (template?.definition as { params_schema?: unknown } | undefined)?.params_schema,
    );
    cache.set(key, names);
  }
  return names;
}

/** Runs with their secret params masked, for any answer but the worker's claim. */
export async function maskRunSecrets<R extends RunRow>(db: Kysely<Database>, runs: R[]): Promise<R[]> {
  return Promise.all(
    runs.map(async (run) => {
      const names = await secretParamsOf(db, run);
      if (names.size === 0 || !run.params) return run;
      const params = Object.fromEntries(
        Object.entries(run.params as Record<string, unknown>).map(([k, v]) => [
          k,
          names.has(k) && v !== null && v !== undefined ? SECRET_MASK : v,
        ]),
      );
      return { ...run, params };
    }),
  );
}

export const SECRET_MASK = '••••';
