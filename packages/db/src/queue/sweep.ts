import { sql, type Kysely } from 'kysely';
import type { Database, RunRow } from '../types.js';
import { backoffInterval } from './backoff.js';
import { ENQUEUE_CHANNEL, EVENTS_CHANNEL, STATUS_CHANNEL } from './channels.js';

/** A stale run as the sweeper saw it: the compare-and-set key for what it does next. */
export interface StaleRun {
  id: string;
  lease_token: string;
  heartbeat_at: Date;
  worker_id: string;
  lane: string;
  /** Seconds since the last heartbeat, on the database clock. */
  silent_s: number;
}

/**
 * One page of running runs whose heartbeat is older than `timeoutS` (database clock), oldest first,
 * keyset-paged after `after` so a huge backlog is handled in bounded batches.
 */
export async function findStaleRuns(
  db: Kysely<Database>,
  input: { timeoutS: number; limit: number; after?: { heartbeat_at: Date; id: string }; now?: Date },
): Promise<StaleRun[]> {
  const now = input.now ? sql`${input.now.toISOString()}::timestamptz` : sql`now()`;
  const after = input.after
    ? sql`AND (heartbeat_at, id) > (${input.after.heartbeat_at.toISOString()}::timestamptz, ${input.after.id}::uuid)`
    : sql``;
  const { rows } = await sql<StaleRun>`
    SELECT id, lease_token, heartbeat_at, worker_id, lane,
           extract(epoch FROM ${now} - heartbeat_at)::float8 AS silent_s
    FROM runs
    WHERE status = 'running' AND heartbeat_at < ${now} - make_interval(secs => ${input.timeoutS}) ${after}
    ORDER BY heartbeat_at, id
    LIMIT ${input.limit}
  `.execute(db);
  return rows;
}

/** What the sweeper did to one run. */
export type SweptRun = RunRow & { action: 'requeued' | 'failed'; silent_s: number };

/**
 * Rescue runs the sweeper saw stale. Compare-and-set on (id, status running, lease token, heartbeat_at
 * exactly as seen): a worker that heartbeats or completes meanwhile changes one of those and wins; the
 * sweeper then touches nothing. Each infrastructure loss counts against `max_infra_losses`, apart from
 * the step-failure budget: while it lasts the run is requeued with full-jitter backoff (attempt is bumped
 * by the next claim, once), after it the run is failed with `heartbeat_timeout` — a run that keeps killing
 * its workers is quarantined rather than cycling forever. Each action is a run event.
 */
export async function sweepStaleRuns(
  db: Kysely<Database>,
  seen: StaleRun[],
  now?: Date,
  reason: 'heartbeat_timeout' | 'worker_restarted' = 'heartbeat_timeout',
): Promise<SweptRun[]> {
  const lost =
    reason === 'heartbeat_timeout' ? 'heartbeat lost from worker ' : 'lease orphaned by restart of worker ';
  if (seen.length === 0) return [];
  const clock = now ? sql`${now.toISOString()}::timestamptz` : sql`now()`;
  const { rows } = await sql<SweptRun>`
    WITH seen AS (
      SELECT * FROM unnest(${seen.map((s) => s.id)}::uuid[], ${seen.map((s) => s.lease_token)}::uuid[],
                           ${seen.map((s) => s.heartbeat_at.toISOString())}::timestamptz[])
        AS s(id, lease_token, heartbeat_at)
    ),
    decided AS (
      SELECT r.id, r.worker_id AS lost_worker, extract(epoch FROM ${clock} - r.heartbeat_at)::float8 AS silent_s,
             CASE WHEN r.infra_losses + 1 < r.max_infra_losses AND NOT r.cancel_requested
                  THEN 'requeued' ELSE 'failed' END AS action
      -- The token match means running (PLAN-STABLE, fence.ts).
      FROM runs r JOIN seen s ON r.id = s.id AND r.lease_token = s.lease_token AND r.heartbeat_at = s.heartbeat_at
      FOR UPDATE OF r SKIP LOCKED
    ),
    updated AS (
      UPDATE runs r SET
        status = CASE WHEN d.action = 'requeued' THEN 'queued'
                      WHEN r.cancel_requested THEN 'cancelled' ELSE 'error' END,
        infra_losses = r.infra_losses + 1,
        recovered = r.recovered OR d.action = 'requeued',
        run_at = CASE WHEN d.action = 'requeued' THEN ${clock} + ${backoffInterval(sql`r.infra_losses + 1`)}
                      ELSE r.run_at END,
        finished_at = CASE WHEN d.action = 'requeued' THEN NULL ELSE ${clock} END,
        error = CASE WHEN d.action = 'requeued' THEN r.error
                     ELSE jsonb_build_object('code', 'heartbeat_timeout',
                          'message', 'no heartbeat from worker ' || d.lost_worker || ' for ' || round(d.silent_s::numeric, 1) || ' s') END,
        lease_token = NULL, worker_id = NULL, worker_boot = NULL, heartbeat_at = NULL, lease_expires_at = NULL,
        last_seq = r.last_seq + 1
      FROM decided d
      WHERE r.id = d.id
      RETURNING r.*, d.action, d.silent_s, d.lost_worker
    ),
    events AS (
      INSERT INTO run_events (run_id, seq, attempt, level, type, message, data)
      SELECT id, last_seq, attempt, CASE WHEN action = 'requeued' THEN 'warn' ELSE 'error' END, action,
             action || ': ' || ${lost}::text || lost_worker || ' after ' || round(silent_s::numeric, 1) || ' s'
               || CASE WHEN action = 'requeued' THEN ', retry at ' || run_at ELSE '' END,
             jsonb_build_object('reason', ${reason}::text, 'worker_id', lost_worker, 'silent_s', silent_s,
                                'infra_losses', infra_losses, 'max_infra_losses', max_infra_losses)
      FROM updated
    ),
    notified AS (
      SELECT count(pg_notify(${EVENTS_CHANNEL}, id || ':' || last_seq))
           + count(pg_notify(${STATUS_CHANNEL}, id::text))
           + count(CASE WHEN action = 'requeued' THEN pg_notify(${ENQUEUE_CHANNEL}, lane) END) AS n
      FROM updated
    )
    SELECT updated.* FROM updated CROSS JOIN notified
  `.execute(db);
  return rows;
}

/**
 * Finish cancellations no worker acknowledged within `graceS` of the request: the run is `cancelled`,
 * compare-and-set on status and the request time it saw.
 */
export async function finishAbandonedCancels(
  db: Kysely<Database>,
  input: { graceS: number; limit: number; now?: Date },
): Promise<RunRow[]> {
  const clock = input.now ? sql`${input.now.toISOString()}::timestamptz` : sql`now()`;
  const { rows } = await sql<RunRow>`
    WITH picked AS (
      SELECT id FROM runs
      WHERE status = 'running' AND cancel_requested
        AND cancel_requested_at < ${clock} - make_interval(secs => ${input.graceS})
      ORDER BY cancel_requested_at LIMIT ${input.limit}
      FOR UPDATE SKIP LOCKED
    ),
    updated AS (
      UPDATE runs r SET status = 'cancelled', finished_at = ${clock},
        lease_token = NULL, worker_id = NULL, worker_boot = NULL, heartbeat_at = NULL, lease_expires_at = NULL,
        last_seq = r.last_seq + 1
      FROM picked WHERE r.id = picked.id -- locked while running (PLAN-STABLE, fence.ts)
      RETURNING r.*
    ),
    events AS (
      INSERT INTO run_events (run_id, seq, attempt, level, type, message, data)
      SELECT id, last_seq, attempt, 'warn', 'cancel.confirmed',
             'cancelled by the sweeper: no worker acknowledged the cancel within ' || ${input.graceS} || ' s',
             jsonb_build_object('reason', 'cancel_unacknowledged')
      FROM updated
    ),
    notified AS (
      SELECT count(pg_notify(${EVENTS_CHANNEL}, id || ':' || last_seq))
           + count(pg_notify(${STATUS_CHANNEL}, id::text)) AS n
      FROM updated
    )
    SELECT updated.* FROM updated CROSS JOIN notified
  `.execute(db);
  return rows;
}

/**
 * Leases still held under an earlier boot of a worker id: that process is gone (the same id came back
 * with a new boot nonce), so there is no point waiting for its heartbeats to time out.
 */
export async function findOrphanedLeases(
  db: Kysely<Database>,
  workerId: string,
  bootId: string,
): Promise<StaleRun[]> {
  const { rows } = await sql<StaleRun>`
    SELECT id, lease_token, heartbeat_at, worker_id, lane, extract(epoch FROM now() - heartbeat_at)::float8 AS silent_s
    FROM runs
    WHERE status = 'running' AND worker_id = ${workerId} AND worker_boot IS DISTINCT FROM ${bootId}
  `.execute(db);
  return rows;
}
