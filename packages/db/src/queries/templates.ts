import { sql, type Kysely } from 'kysely';
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
    await sql`SELECT pg_advisory_xact_lock(hashtext('ocr_template:' || ${input.name}))`.execute(trx);
    const { rows } = await sql<TemplateRow>`
      INSERT INTO run_templates (name, version, description, definition)
      SELECT ${input.name}, COALESCE(max(version), 0) + 1, ${input.description}, ${JSON.stringify(input.definition)}::jsonb
      FROM run_templates WHERE name = ${input.name}
      RETURNING *
    `.execute(trx);
    return rows[0]!;
  });
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
