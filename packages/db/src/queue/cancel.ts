import { sql, type Kysely } from 'kysely';
import type { Database, RunRow } from '../types.js';
import { EVENTS_CHANNEL, STATUS_CHANNEL } from './channels.js';
import { enqueueRuns } from './enqueue.js';

/** What a cancel did: `cancelled` (queued run, at once), `requested` (running run, flagged), or nothing. */
export type CancelOutcome =
  | { outcome: 'cancelled' | 'requested'; run: RunRow }
  | { outcome: 'already_finished' | 'already_requested'; run: RunRow }
  | { outcome: 'not_found' };

/**
 * Cancel a run. Compare-and-set on status: a queued run becomes `cancelled` immediately; a running run
 * gets `cancel_requested` and its worker learns it from the next heartbeat (the sweeper finishes the
 * job if the worker never answers). Terminal runs are left alone. `idempotencyKey` (opaque to this
 * function) is stored in the cancel event's data, so `cancelledWithKey` can tell a replay of this very
 * cancel from a cancel of a run that had already finished.
 */
export async function cancelRun(
  db: Kysely<Database>,
  runId: string,
  requestedBy: string,
  idempotencyKey?: string,
): Promise<CancelOutcome> {
  const { rows } = await sql<RunRow & { outcome: 'cancelled' | 'requested' }>`
    WITH updated AS (
      UPDATE runs r SET
        status = CASE WHEN r.status = 'queued' THEN 'cancelled' ELSE r.status END,
        finished_at = CASE WHEN r.status = 'queued' THEN now() ELSE r.finished_at END,
        cancel_requested = true,
        cancel_requested_at = now(),
        last_seq = r.last_seq + 1
      WHERE r.id = ${runId}::uuid
        AND (r.status = 'queued' OR (r.status = 'running' AND NOT r.cancel_requested))
      RETURNING r.*, CASE WHEN r.status = 'cancelled' THEN 'cancelled' ELSE 'requested' END AS outcome
    ),
    events AS (
      INSERT INTO run_events (run_id, seq, attempt, level, type, message, data)
      SELECT id, last_seq, attempt, 'warn',
             CASE WHEN outcome = 'cancelled' THEN 'status' ELSE 'cancel.requested' END,
             CASE WHEN outcome = 'cancelled' THEN 'cancelled while queued' ELSE 'cancel requested' END
               || ' by ' || ${requestedBy},
             jsonb_strip_nulls(jsonb_build_object('requested_by', ${requestedBy}::text, 'status', status,
                                                  'idempotency_key', ${idempotencyKey ?? null}::text))
      FROM updated
    ),
    notified AS (
      SELECT count(pg_notify(${EVENTS_CHANNEL}, id || ':' || last_seq))
           + count(pg_notify(${STATUS_CHANNEL}, id::text)) AS n
      FROM updated
    )
    SELECT updated.* FROM updated CROSS JOIN notified
  `.execute(db);
  if (rows[0]) {
    const { outcome, ...run } = rows[0];
    return { outcome, run: run as RunRow };
  }
  const run = await db.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirst();
  if (!run) return { outcome: 'not_found' };
  return { outcome: run.status === 'running' ? 'already_requested' : 'already_finished', run };
}

/**
 * Whether this run's cancel was made under `idempotencyKey` (a replay of that request). Reads only the
 * run's own cancel events (the `(run_id, seq)` index, and the run row's folded timeline), so it costs little
 * even on a long run.
 */
export async function cancelledWithKey(
  db: Kysely<Database>,
  runId: string,
  idempotencyKey: string,
): Promise<boolean> {
  const row = await db
    .selectFrom('run_timeline')
    .select('seq')
    .where('run_id', '=', runId)
    .where('type', 'in', ['status', 'cancel.requested'])
    .where(sql<string>`data->>'idempotency_key'`, '=', idempotencyKey)
    .executeTakeFirst();
  return row !== undefined;
}

/** `created` a new run, `replayed` an idempotency key (the original retry's run), or nothing. */
export type RetryOutcome =
  | { outcome: 'created' | 'replayed'; run: RunRow }
  | { outcome: 'not_retryable'; run: RunRow }
  | { outcome: 'not_found' };

/**
 * Manual retry: a new run with the same template version, lane, params and session, linked by `retry_of`.
 * With `idempotency`, a repeated key creates nothing and answers the original run (which the caller checks
 * against `fingerprint`: the key may have been used for another request).
 */
export async function retryRun(
  db: Kysely<Database>,
  runId: string,
  idempotency?: { key: string; fingerprint: string },
): Promise<RetryOutcome> {
  const old = await db.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirst();
  if (!old) return { outcome: 'not_found' };
  if (old.status !== 'error' && old.status !== 'cancelled') return { outcome: 'not_retryable', run: old };
  const [created] = await enqueueRuns(db, [
    {
      template: old.template,
      template_version: old.template_version,
      lane: old.lane,
      priority: old.priority,
      params: old.params,
      labels: old.labels as Record<string, string>,
      max_attempts: old.max_attempts,
      max_infra_losses: old.max_infra_losses,
      retry_policy: old.retry_policy as { initial_s: number; factor: number; max_s: number },
      timeout_s: old.timeout_s,
      session_id: old.session_id,
      retry_of: old.id,
      idempotency_key: idempotency?.key ?? null,
      idempotency_fingerprint: idempotency?.fingerprint ?? null,
    },
  ]);
  return { outcome: created!.created ? 'created' : 'replayed', run: created!.run };
}
