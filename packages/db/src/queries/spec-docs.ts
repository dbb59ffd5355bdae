import { sql, type Kysely } from 'kysely';
import type { Database, SpecDocRow } from '../types.js';

/** Store a new version of a project's document (versions count per project and file name). */
export async function addSpecDoc(
  db: Kysely<Database>,
  input: { project: string; name: string; content: string; run_id?: string | null; artifact_id?: string | null },
): Promise<SpecDocRow> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('ocr_spec_doc:' || ${input.project} || '/' || ${input.name}))`.execute(trx);
    const { rows } = await sql<SpecDocRow>`
      INSERT INTO spec_docs (project, name, version, content, run_id, artifact_id)
      SELECT ${input.project}, ${input.name}, COALESCE(max(version), 0) + 1, ${input.content},
             ${input.run_id ?? null}::uuid, ${input.artifact_id ?? null}::uuid
      FROM spec_docs WHERE project = ${input.project} AND name = ${input.name}
      RETURNING *
    `.execute(trx);
    return rows[0]!;
  });
}

/** Latest version of every document, optionally of one project (content left out). */
export async function listSpecDocs(db: Kysely<Database>, project?: string): Promise<SpecDocRow[]> {
  const filter = project ? sql`WHERE project = ${project}` : sql``;
  const { rows } = await sql<SpecDocRow>`
    SELECT DISTINCT ON (project, name) id, project, name, version, NULL AS content, run_id, artifact_id, created_at
    FROM spec_docs ${filter}
    ORDER BY project, name, version DESC
  `.execute(db);
  return rows;
}

export async function getSpecDoc(db: Kysely<Database>, id: string): Promise<SpecDocRow | undefined> {
  return db.selectFrom('spec_docs').selectAll().where('id', '=', id).executeTakeFirst();
}
