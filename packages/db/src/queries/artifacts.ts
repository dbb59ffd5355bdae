import { sql, type Kysely } from 'kysely';
import type { ArtifactKind, ArtifactRow, Database } from '../types.js';
import { leasedRun, type FenceMiss } from '../queue/fence.js';

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
      WHERE id = ${input.run_id}::uuid AND lease_token = ${input.lease_token}::uuid -- PLAN-STABLE (fence.ts)
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

/** Every artifact column but `content` (it can be large): what listings and searches select. */
export const ARTIFACT_METADATA = [
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
  'template',
  'lane',
] as const;

/** Artifacts of a run (content left out: it can be large). */
export async function listArtifacts(db: Kysely<Database>, runId: string): Promise<ArtifactRow[]> {
  return db
    .selectFrom('artifacts')
    .select(ARTIFACT_METADATA)
    .select(sql<null>`NULL`.as('content'))
    .where('run_id', '=', runId)
    .orderBy('created_at')
    .execute();
}

/** What completing an artifact did. */
export type ArtifactCompletion =
  | { outcome: 'ready'; artifact: ArtifactRow }
  | { outcome: 'already_ready'; artifact: ArtifactRow }
  | { outcome: 'not_found' }
  | { outcome: 'lease_lost'; miss: FenceMiss };

/**
 * Mark an uploaded artifact ready once its object was verified: one compare-and-set on the artifact still
 * `pending` AND its run still `running` under the presented lease in the artifact's own attempt, like every
 * other worker write. A run requeued or cancelled while the object was being measured makes it match no
 * row (then the miss is diagnosed), so a zombie can never flip an artifact of a newer attempt or a dead run.
 * Completing a ready artifact again under a current lease is answered with it (a retried request).
 */
export async function completeArtifact(
  db: Kysely<Database>,
  input: { id: string; leaseToken: string },
): Promise<ArtifactCompletion> {
  const { rows } = await sql<ArtifactRow>`
    UPDATE artifacts a SET status = 'ready', completed_at = now()
    FROM runs r
    WHERE a.id = ${input.id}::uuid AND a.status = 'pending'
      AND r.id = a.run_id AND r.lease_token = ${input.leaseToken}::uuid -- PLAN-STABLE (fence.ts)
      AND r.attempt = a.attempt
    RETURNING a.*
  `.execute(db);
  if (rows[0]) return { outcome: 'ready', artifact: rows[0] };
  const artifact = await getArtifact(db, input.id);
  if (!artifact) return { outcome: 'not_found' };
  const lease = await leasedRun(db, { runId: artifact.run_id, leaseToken: input.leaseToken });
  if (!lease.ok) return { outcome: 'lease_lost', miss: lease };
  if (artifact.status === 'ready') return { outcome: 'already_ready', artifact };
  // The lease is current but the artifact belongs to an earlier attempt of the run.
  const run = lease.value;
  return {
    outcome: 'lease_lost',
    miss: {
      reason: 'lease_lost',
      why: 'stale_attempt',
      status: run.status,
      attempt: run.attempt,
      worker_id: run.worker_id,
    },
  };
}
