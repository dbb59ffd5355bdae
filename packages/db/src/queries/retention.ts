import { sql, type Kysely } from 'kysely';
import type { Database } from '../types.js';

/** How long finished runs are kept: a default and per-lane overrides, in days; 0 keeps forever. */
export interface RetentionPolicy {
  days: number;
  lanes?: Record<string, number>;
}

/** A finished run past its lane's retention. */
export interface ExpiredRun {
  id: string;
  lane: string;
  finished_at: Date;
  /** S3 keys of its stored artifacts (to delete from the bucket before the rows). */
  object_keys: string[];
}

/**
 * Up to `limit` finished runs older than their lane's retention, oldest first, with their artifacts' S3 keys.
 * Reads only (no locks beyond a snapshot); uses runs_finished_idx (lane, finished_at).
 */
export async function findExpiredRuns(
  db: Kysely<Database>,
  input: { policy: RetentionPolicy; limit: number; now?: Date },
): Promise<ExpiredRun[]> {
  const overrides = JSON.stringify(input.policy.lanes ?? {});
  const now = input.now ?? null;
  const { rows } = await sql<ExpiredRun>`
    WITH policy AS (SELECT key AS lane, value::int AS days FROM jsonb_each_text(${overrides}::jsonb)),
    expired AS (
      SELECT r.id, r.lane, r.finished_at
      FROM runs r LEFT JOIN policy p ON p.lane = r.lane
      WHERE r.finished_at IS NOT NULL
        AND COALESCE(p.days, ${input.policy.days}::int) > 0
        AND r.finished_at < COALESCE(${now}::timestamptz, now()) - make_interval(days => COALESCE(p.days, ${input.policy.days}::int))
      ORDER BY r.finished_at, r.id
      LIMIT ${input.limit}
    )
    SELECT e.id, e.lane, e.finished_at,
      COALESCE((SELECT array_agg(a.object_key ORDER BY a.object_key) FROM artifacts a WHERE a.run_id = e.id AND a.storage = 's3'), '{}') AS object_keys
    FROM expired e
    ORDER BY e.finished_at, e.id`.execute(db);
  return rows;
}

/**
 * Delete at most `limit` events of the given runs; returns how many. One short statement on the primary key,
 * so a run with a hundred thousand events goes in many small transactions instead of one long cascade.
 */
export async function deleteRunEventsBatch(
  db: Kysely<Database>,
  input: { runIds: string[]; limit: number },
): Promise<number> {
  if (input.runIds.length === 0) return 0;
  const result = await sql`
    DELETE FROM run_events
    WHERE (run_id, seq) IN (
      SELECT run_id, seq FROM run_events WHERE run_id = ANY(${input.runIds}::uuid[]) LIMIT ${input.limit}
    )`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * Delete the S3-stored artifact rows of the given runs, right after their objects left the bucket, so a pass
 * interrupted before the runs go never lists (or counts) those objects again.
 */
export async function deleteStoredArtifactRows(db: Kysely<Database>, runIds: string[]): Promise<number> {
  if (runIds.length === 0) return 0;
  const result =
    await sql`DELETE FROM artifacts WHERE run_id = ANY(${runIds}::uuid[]) AND storage = 's3'`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * Delete the given runs if they are still finished; their steps and artifact rows go by cascade (their events
 * should be gone already: deleteRunEventsBatch). A newer run that retried one of them keeps existing and
 * loses only the link (`retry_of` has no ON DELETE). Returns the ids deleted.
 */
export async function deleteFinishedRuns(db: Kysely<Database>, runIds: string[]): Promise<string[]> {
  if (runIds.length === 0) return [];
  return db.transaction().execute(async (trx) => {
    await sql`UPDATE runs SET retry_of = NULL WHERE retry_of = ANY(${runIds}::uuid[]) AND NOT (id = ANY(${runIds}::uuid[]))`.execute(
      trx,
    );
    const { rows } = await sql<{ id: string }>`
      DELETE FROM runs WHERE id = ANY(${runIds}::uuid[]) AND finished_at IS NOT NULL RETURNING id`.execute(
      trx,
    );
    return rows.map((r) => r.id);
  });
}
