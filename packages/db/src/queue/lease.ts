import { sql, type Kysely } from 'kysely';
import type { Database, RunRow } from '../types.js';
import { backoffInterval } from './backoff.js';
import { sanitizeJson } from './sanitize.js';
import { EVENTS_CHANNEL, STATUS_CHANNEL, notifiedCte, type NotifyOption } from './channels.js';
import { fenced, type Fenced, type Lease } from './fence.js';
import { PREPARED } from '../connect.js';

export type { Fenced, Lease } from './fence.js';
const isUuid = (value: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/** What a heartbeat tells the worker. */
export interface HeartbeatAnswer {
  cancel_requested: boolean;
  lease_expires_at: Date;
}

/**
 * Extend leases, fenced by token: only a row still `running` under the presented token moves.
 * The heartbeat time is truncated to milliseconds so the sweeper's compare-and-set on (lease, heartbeat)
 * round-trips exactly through JavaScript dates. Also marks the worker as seen.
 *
 * A heartbeat never waits for a row lock. A run whose row is locked at that moment is in the middle of a
 * commit of its own (an event append or the completion, which prove it alive: appends move `heartbeat_at`
 * too) or of a sweep or cancel (which the next heartbeat reports); it is answered from the row as it is.
 * Waiting there used to chain a whole fleet's heartbeat batch behind completions, and completions behind it.
 */
export async function heartbeatRuns(
  db: Kysely<Database>,
  leases: Lease[],
  leaseSeconds: number,
): Promise<Fenced<HeartbeatAnswer>[]> {
  const valid = leases.filter((lease) => isUuid(lease.runId) && isUuid(lease.leaseToken));
  const applied = new Map<string, HeartbeatAnswer>();
  if (valid.length > 0) {
    // Prepared (`PREPARED`): a fleet heartbeats every run it holds, at every interval.
    const { rows } = await sql<{ id: string } & HeartbeatAnswer>`${sql.raw(PREPARED)}
      WITH presented AS (
        SELECT r.id FROM runs r
        JOIN unnest(${valid.map((l) => l.runId)}::uuid[], ${valid.map((l) => l.leaseToken)}::uuid[]) AS l(id, token)
          ON r.id = l.id AND r.lease_token = l.token -- the fence (PLAN-STABLE, fence.ts)
      ),
      free AS (
        SELECT r.id FROM runs r JOIN presented p ON p.id = r.id ORDER BY r.id FOR UPDATE OF r SKIP LOCKED
      ),
      beat AS (
        UPDATE runs r SET heartbeat_at = date_trunc('milliseconds', now()),
                          lease_expires_at = now() + make_interval(secs => ${leaseSeconds})
        FROM free WHERE r.id = free.id
        RETURNING r.id, r.cancel_requested, r.lease_expires_at, r.worker_id
      ),
      seen AS (
        UPDATE workers w SET last_seen_at = now() WHERE w.id IN (SELECT DISTINCT worker_id FROM beat)
      )
      SELECT id, cancel_requested, lease_expires_at FROM beat
      UNION ALL
      SELECT r.id, r.cancel_requested, r.lease_expires_at FROM runs r JOIN presented p ON p.id = r.id
      WHERE r.id NOT IN (SELECT id FROM free)
    `.execute(db);
    for (const row of rows)
      applied.set(row.id, { cancel_requested: row.cancel_requested, lease_expires_at: row.lease_expires_at });
  }
  return fenced(db, leases, applied);
}

/** A worker's verdict on its attempt. */
export interface Completion extends Lease {
  status: 'success' | 'error' | 'cancelled';
  error?: { code: string; message: string; details?: unknown } | null;
  output?: unknown;
}

/** The run after completion; `requeued` when an error with attempts left sent it back to the queue. */
export type CompletedRun = RunRow & { requeued: boolean };

/**
 * Finish attempts, fenced by lease token, in one statement for any number of leases.
 * An `error` with step attempts left (infrastructure losses do not count against them) and no cancel
 * request goes back to `queued` with full-jitter exponential backoff; a run whose cancel was requested
 * ends `cancelled` unless it succeeded anyway. Each outcome is appended as a `status` event.
 */
export async function completeRuns(
  db: Kysely<Database>,
  completions: Completion[],
  options: NotifyOption = {},
): Promise<Fenced<CompletedRun>[]> {
  const notified = notifiedCte(
    options,
    sql`SELECT count(pg_notify(${EVENTS_CHANNEL}, id || ':' || last_seq)) + count(pg_notify(${STATUS_CHANNEL}, id::text)) AS n FROM updated`,
  );
  const valid = completions.filter((c) => isUuid(c.runId) && isUuid(c.leaseToken));
  const applied = new Map<string, CompletedRun>();
  if (valid.length > 0) {
    // What a step printed can end up in its error or output: cleaned like events, never refused.
    const json = (value: unknown) => (value == null ? null : JSON.stringify(sanitizeJson(value)));
    // Arrays, not one JSON document: the planner sizes `unnest` by its arrays (a record set it guesses at 100
    // rows, and a small `runs` then looks cheaper to scan whole than to probe by key: PLAN-STABLE, fence.ts).
    const { rows } = await sql<CompletedRun>`
      WITH input AS (
        SELECT * FROM unnest(${valid.map((c) => c.runId)}::uuid[], ${valid.map((c) => c.leaseToken)}::uuid[],
                             ${valid.map((c) => c.status)}::text[], ${valid.map((c) => json(c.error))}::jsonb[],
                             ${valid.map((c) => json(c.output))}::jsonb[])
          AS x(id, token, status, error, output)
      ),
      decided AS (
        SELECT r.id, i.error, i.output,
               CASE
                 WHEN r.cancel_requested AND i.status <> 'success' THEN 'cancelled'
                 WHEN i.status = 'error' AND r.attempt - r.infra_losses - r.releases < r.max_attempts THEN 'queued'
                 ELSE i.status
               END AS next_status
        FROM runs r JOIN input i ON r.id = i.id AND r.lease_token = i.token -- the fence (PLAN-STABLE)
        FOR UPDATE OF r
      ),
      updated AS (
        UPDATE runs r SET
          status = d.next_status,
          finished_at = CASE WHEN d.next_status = 'queued' THEN NULL ELSE now() END,
          run_at = CASE WHEN d.next_status = 'queued'
                        THEN now() + ${backoffInterval(sql`r.attempt - r.infra_losses - r.releases`)} ELSE r.run_at END,
          lease_token = NULL, worker_id = NULL, worker_boot = NULL, heartbeat_at = NULL, lease_expires_at = NULL,
          error = d.error,
          output = d.output,
          last_seq = r.last_seq + 1
        FROM decided d
        WHERE r.id = d.id
        RETURNING r.*, d.next_status = 'queued' AS requeued
      ),
      events AS (
        INSERT INTO run_events (run_id, seq, attempt, level, type, message, data)
        SELECT id, last_seq, attempt,
               CASE WHEN status IN ('error') OR requeued THEN 'warn' ELSE 'info' END,
               CASE WHEN requeued THEN 'requeued' ELSE 'status' END,
               CASE WHEN requeued THEN 'requeued: attempt ' || attempt || ' failed, retry at ' || run_at
                    ELSE 'finished: ' || status END,
               jsonb_build_object('status', status, 'attempt', attempt, 'error', error)
        FROM updated
      ),
      notified AS (${notified})
      SELECT updated.* FROM updated CROSS JOIN notified
    `.execute(db);
    for (const row of rows) applied.set(row.id, row);
  }
  return fenced(db, completions, applied);
}

/**
 * Hand a run back without penalty (worker shutdown): `queued` again at once, the attempt it used counted as a
 * release, not against the failure budget. A run whose cancel was requested is cancelled instead of requeued.
 */
export async function releaseRun(
  db: Kysely<Database>,
  lease: Lease,
  reason: string,
): Promise<Fenced<RunRow>> {
  const applied = new Map<string, RunRow>();
  if (isUuid(lease.runId) && isUuid(lease.leaseToken)) {
    const { rows } = await sql<RunRow>`
      WITH updated AS (
        UPDATE runs r SET
          status = CASE WHEN r.cancel_requested THEN 'cancelled' ELSE 'queued' END,
          finished_at = CASE WHEN r.cancel_requested THEN now() ELSE NULL END,
          releases = r.releases + CASE WHEN r.cancel_requested THEN 0 ELSE 1 END,
          run_at = now(),
          lease_token = NULL, worker_id = NULL, worker_boot = NULL, heartbeat_at = NULL, lease_expires_at = NULL,
          last_seq = r.last_seq + 1
        WHERE r.id = ${lease.runId}::uuid AND r.lease_token = ${lease.leaseToken}::uuid -- PLAN-STABLE
        RETURNING r.*
      ),
      events AS (
        INSERT INTO run_events (run_id, seq, attempt, level, type, message, data)
        SELECT id, last_seq, attempt, 'info', 'released',
               CASE WHEN status = 'cancelled' THEN 'cancelled on release: ' ELSE 'released: ' END || ${reason},
               jsonb_build_object('reason', ${reason}::text)
        FROM updated
      ),
      notified AS (
        SELECT count(pg_notify(${EVENTS_CHANNEL}, id || ':' || last_seq))
             + count(pg_notify(${STATUS_CHANNEL}, id::text))
             + count(pg_notify('ocr_enqueue', lane)) AS n
        FROM updated
      )
      SELECT updated.* FROM updated CROSS JOIN notified
    `.execute(db);
    if (rows[0]) applied.set(rows[0].id, rows[0]);
  }
  const [result] = await fenced(db, [lease], applied);
  return result!;
}
