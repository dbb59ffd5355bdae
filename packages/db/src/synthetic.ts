import { sql, type Kysely } from 'kysely';
import type { Database } from './types.js';

/**
 * Fill the artifacts table at scale in one statement, for tests and benchmarks that check a query's plan
 * and speed at a million rows (one row at a time through the worker protocol would take hours). Never used
 * by the services. Each artifact belongs to one of `runIds` (round robin); names, kinds, types and sizes
 * cycle so every filter has many matches and a few rare ones; creation times spread back over `spanDays`.
 */
export async function insertSyntheticArtifacts(
  db: Kysely<Database>,
  input: { runIds: string[]; count: number; spanDays?: number },
): Promise<void> {
  const span = input.spanDays ?? 30;
  await sql`
    INSERT INTO artifacts (run_id, attempt, name, kind, content_type, size, sha256, status, storage, content,
                           created_at, completed_at)
    SELECT (${input.runIds}::uuid[])[1 + i % ${input.runIds.length}], 1,
           (ARRAY['report.md', 'plan.diff', 'screenshot.png', 'result.json', 'out.log', 'bundle.zip'])[1 + i % 6]
             || CASE WHEN i % 1000 = 0 THEN '' ELSE '-' || i END,
           (ARRAY['markdown', 'diff', 'image', 'json', 'text', 'zip'])[1 + i % 6],
           (ARRAY['text/markdown', 'text/x-diff', 'image/png', 'application/json', 'text/plain', 'application/zip'])[1 + i % 6],
           (i * 7919) % 5000000, repeat('0', 64), 'ready', 'inline', 'x',
           now() - make_interval(secs => (i::float8 / ${input.count}) * ${span} * 86400),
           now() - make_interval(secs => (i::float8 / ${input.count}) * ${span} * 86400)
    FROM generate_series(1, ${input.count}) i`.execute(db);
}
