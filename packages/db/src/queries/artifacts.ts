import { sql, type Kysely } from 'kysely';
import type { ArtifactKind, ArtifactRow, Database } from '../types.js';

export interface NewArtifact {
  run_id: string;
  lease_token: string;
  name: string;
  kind: ArtifactKind;
  content_type: string;
  size: number;
  sha256: string;
  /** Inline text content; without it the artifact waits for an upload to object storage. */
  content?: string;
  object_key_prefix: string;
}

/**
 * Record an artifact for the run's current attempt, fenced by its lease (a zombie cannot add artifacts).
 * Inline artifacts are ready at once; object-storage ones are `pending` until verified.
 */
export async function createArtifact(
  db: Kysely<Database>,
  input: NewArtifact,
): Promise<ArtifactRow | undefined> {
  const inline = input.content !== undefined;
  const { rows } = await sql<ArtifactRow>`
    WITH run AS (
      SELECT id, attempt FROM runs
      WHERE id = ${input.run_id}::uuid AND lease_token = ${input.lease_token}::uuid AND status = 'running'
    ),
    made AS (SELECT gen_random_uuid() AS id)
    INSERT INTO artifacts (id, run_id, attempt, name, kind, content_type, size, sha256, status, storage, content, object_key, completed_at)
    SELECT made.id, run.id, run.attempt, ${input.name}, ${input.kind}, ${input.content_type}, ${input.size}, ${input.sha256},
           ${inline ? 'ready' : 'pending'}, ${inline ? 'inline' : 's3'}, ${input.content ?? null},
           CASE WHEN ${inline} THEN NULL ELSE ${input.object_key_prefix} || run.id || '/' || made.id END,
           CASE WHEN ${inline} THEN now() END
    FROM run, made
    RETURNING *
  `.execute(db);
  return rows[0];
}

export async function getArtifact(db: Kysely<Database>, id: string): Promise<ArtifactRow | undefined> {
  return db.selectFrom('artifacts').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Artifacts of a run (content left out: it can be large). */
export async function listArtifacts(db: Kysely<Database>, runId: string): Promise<ArtifactRow[]> {
  return db
    .selectFrom('artifacts')
    .select([
      'id',
      'run_id',
      'attempt',
      'name',
      'kind',
      'content_type',
      'size',
      'sha256',
      'status',
      'storage',
      'object_key',
      'created_at',
      'completed_at',
    ])
    .select(sql<null>`NULL`.as('content'))
    .where('run_id', '=', runId)
    .orderBy('created_at')
    .execute();
}

/** Mark an uploaded artifact ready (compare-and-set on pending), once its object was verified. */
export async function markArtifactReady(db: Kysely<Database>, id: string): Promise<ArtifactRow | undefined> {
  return db
    .updateTable('artifacts')
    .set({ status: 'ready', completed_at: sql`now()` as never })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirst();
}
