import { sql, type Kysely } from 'kysely';
import { diagnoseFence } from '../queue/fence.js';
import type { Database, SpecDocRow } from '../types.js';

/** Store a new version of a project's document (versions count per project and file name). */
export async function addSpecDoc(
  db: Kysely<Database>,
  input: {
    project: string;
    name: string;
    content: string;
    run_id?: string | null;
    artifact_id?: string | null;
  },
): Promise<SpecDocRow> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('ocr_spec_doc:' || ${input.project} || '/' || ${input.name}))`.execute(
      trx,
    );
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

/** A document a run stores: its name, content and (optionally) the run's artifact that holds it. */
export interface RunSpecDocInput {
  name: string;
  content: string;
  artifact_id?: string | null;
}

/**
 * Store documents for a run's current attempt, fenced by its lease: the run row is locked `FOR SHARE`
 * (still `running` under this token), so no complete, release or sweep can end the lease until the rows
 * are in; a zombie stores nothing. Each named artifact must belong to the run. All or nothing.
 */
export async function addRunSpecDocs(
  db: Kysely<Database>,
  input: { runId: string; leaseToken: string; project: string; docs: RunSpecDocInput[] },
): Promise<
  | { ok: true; docs: SpecDocRow[] }
  | { ok: false; reason: 'lease_lost' | 'not_found' | 'foreign_artifact'; index?: number }
> {
  return db.transaction().execute(async (trx) => {
    const { rows: held } = await sql<{ id: string }>`
      SELECT id FROM runs WHERE id = ${input.runId}::uuid AND lease_token = ${input.leaseToken}::uuid FOR SHARE -- PLAN-STABLE (fence.ts)
    `.execute(trx);
    if (held.length === 0) {
      const miss = (await diagnoseFence(trx, [input])).get(input.runId)!;
      return { ok: false, reason: miss.reason };
    }
    const named = input.docs.flatMap((d, index) => (d.artifact_id ? [{ id: d.artifact_id, index }] : []));
    if (named.length > 0) {
      const own = await trx
        .selectFrom('artifacts')
        .select('id')
        .where('run_id', '=', input.runId)
        .where(
          'id',
          'in',
          named.map((n) => n.id),
        )
        .execute();
      const ids = new Set(own.map((a) => a.id));
      const foreign = named.find((n) => !ids.has(n.id));
      if (foreign) return { ok: false, reason: 'foreign_artifact', index: foreign.index };
    }
    const docs: SpecDocRow[] = [];
    for (const doc of input.docs) {
      await sql`SELECT pg_advisory_xact_lock(hashtext('ocr_spec_doc:' || ${input.project} || '/' || ${doc.name}))`.execute(
        trx,
      );
      const { rows } = await sql<SpecDocRow>`
        INSERT INTO spec_docs (project, name, version, content, run_id, artifact_id)
        SELECT ${input.project}, ${doc.name}, COALESCE(max(version), 0) + 1, ${doc.content}, ${input.runId}::uuid, ${doc.artifact_id ?? null}::uuid
        FROM spec_docs WHERE project = ${input.project} AND name = ${doc.name}
        RETURNING *
      `.execute(trx);
      docs.push(rows[0]!);
    }
    return { ok: true, docs };
  });
}

/** The latest version of each of a project's documents, with content (a validator's input). */
export async function latestSpecDocContents(db: Kysely<Database>, project: string): Promise<SpecDocRow[]> {
  const { rows } = await sql<SpecDocRow>`
    SELECT DISTINCT ON (name) * FROM spec_docs WHERE project = ${project} ORDER BY name, version DESC
  `.execute(db);
  return rows;
}
