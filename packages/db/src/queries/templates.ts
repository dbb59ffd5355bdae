import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, TemplateRow } from '../types.js';

/** The latest live version of a template, or a given version (deleted ones included: runs pin them). */
export async function getTemplate(
  db: Kysely<Database>,
  name: string,
  version?: number,
): Promise<TemplateRow | undefined> {
  let query = db.selectFrom('run_templates').selectAll().where('name', '=', name);
  query =
    version === undefined
      ? query.where('deleted_at', 'is', null).orderBy('version', 'desc').limit(1)
      : query.where('version', '=', version);
  return query.executeTakeFirst();
}

/** Latest live version of every template, by name. */
export async function listTemplates(db: Kysely<Database>): Promise<TemplateRow[]> {
  const { rows } = await sql<TemplateRow>`
    SELECT DISTINCT ON (name) * FROM run_templates
    WHERE deleted_at IS NULL
    ORDER BY name, version DESC
  `.execute(db);
  return rows;
}

/**
 * Store a new version (1 for a new name). Versions are append-only so runs keep the definition they were
 * created with. Concurrent writers of one name serialise on an advisory transaction lock.
 */
export async function putTemplate(
  db: Kysely<Database>,
  input: { name: string; description: string; definition: unknown },
): Promise<TemplateRow> {
  return db.transaction().execute(async (trx) => {
    await lockName(trx, input.name);
    return insertVersion(trx, input);
  });
}

/**
 * Store a new version only if the latest live version is still `expectedVersion` (the one the writer read):
 * an optimistic-concurrency save. Under the same lock as `putTemplate`, so the check and the insert are one
 * step; a lost race answers with the version there is now (null: none, or retired), not an exception.
 */
export async function putTemplateIfLatest(
  db: Kysely<Database>,
  input: { name: string; description: string; definition: unknown },
  expectedVersion: number,
): Promise<{ saved: TemplateRow } | { currentVersion: number | null }> {
  return db.transaction().execute(async (trx) => {
    await lockName(trx, input.name);
    const latest = await trx
      .selectFrom('run_templates')
      .select('version')
      .where('name', '=', input.name)
      .where('deleted_at', 'is', null)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (latest?.version !== expectedVersion) return { currentVersion: latest?.version ?? null };
    return { saved: await insertVersion(trx, input) };
  });
}

async function lockName(trx: Transaction<Database>, name: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext('ocr_template:' || ${name}))`.execute(trx);
}

async function insertVersion(
  trx: Transaction<Database>,
  input: { name: string; description: string; definition: unknown },
): Promise<TemplateRow> {
  const { rows } = await sql<TemplateRow>`
    INSERT INTO run_templates (name, version, description, definition)
    SELECT ${input.name}, COALESCE(max(version), 0) + 1, ${input.description}, ${JSON.stringify(input.definition)}::jsonb
    FROM run_templates WHERE name = ${input.name}
    RETURNING *
  `.execute(trx);
  return rows[0]!;
}

/** Retire a template: every version is kept for the runs that pinned it, none is offered for new runs. */
export async function deleteTemplate(db: Kysely<Database>, name: string): Promise<boolean> {
  const result = await db
    .updateTable('run_templates')
    .set({ deleted_at: sql`now()` as never })
    .where('name', '=', name)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
