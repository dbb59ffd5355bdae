import { sql, type Kysely } from 'kysely';
import type { Database, LaneRow } from '../types.js';
import { WORKER_LIVE_S } from './runs.js';

/** A lane with its live figures, as the runboard and autoscalers see it. */
export interface LaneOverview extends LaneRow {
  depth: number;
  scheduled: number;
  running: number;
  oldest_queued_age_s: number | null;
  workers_live: number;
  /** Runs of the lane the sweeper requeued after losing their worker, by how they ended. */
  recovered_success: number;
  recovered_error: number;
  recovered_cancelled: number;
  /** Queued or running again: not ended yet. */
  recovered_pending: number;
}

export interface LaneRunSummary {
  id: string;
  lane: string;
  template: string;
  status: string;
  worker_id: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  heartbeat_at: Date | null;
  current_step: string | null;
  last_line: string | null;
}

/**
 * Every lane with depth (queued and due), scheduled (queued, future), running, oldest wait and live
 * workers, and how the runs the sweeper recovered ended; each figure from a partial index. Lanes that live workers serve are listed even before any
 * run created them (claims never create lanes: a worker token must not be able to add rows at will).
 */
export async function laneOverview(db: Kysely<Database>): Promise<LaneOverview[]> {
  const { rows } = await laneOverviewQuery().execute(db);
  return rows;
}

/** The plan of laneOverview (tests check that each figure comes from its index). */
export async function explainLaneOverview(db: Kysely<Database>): Promise<string> {
  const { rows } = await sql<{ 'QUERY PLAN': string }>`EXPLAIN ${laneOverviewQuery()}`.execute(db);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

function laneOverviewQuery() {
  return sql<LaneOverview>`
    SELECT l.*,
      (SELECT count(*) FROM runs r WHERE r.lane = l.name AND r.status = 'queued' AND r.run_at <= now())::int AS depth,
      (SELECT count(*) FROM runs r WHERE r.lane = l.name AND r.status = 'queued' AND r.run_at > now())::int AS scheduled,
      (SELECT count(*) FROM runs r WHERE r.lane = l.name AND r.status = 'running')::int AS running,
      (SELECT extract(epoch FROM now() - min(r.run_at)) FROM runs r
         WHERE r.lane = l.name AND r.status = 'queued' AND r.run_at <= now())::float8 AS oldest_queued_age_s,
      (SELECT count(*) FROM workers w WHERE l.name = ANY(w.lanes)
         AND w.last_seen_at > now() - make_interval(secs => ${WORKER_LIVE_S}))::int AS workers_live,
      rec.recovered_success, rec.recovered_error, rec.recovered_cancelled, rec.recovered_pending
    FROM (
      SELECT name, max_concurrency, paused, created_at, updated_at FROM lanes
      UNION ALL
      SELECT DISTINCT s.name, NULL::int, false, min(w.started_at) OVER (PARTITION BY s.name), max(w.last_seen_at) OVER (PARTITION BY s.name)
      FROM workers w CROSS JOIN LATERAL unnest(w.lanes) AS s(name)
      WHERE w.last_seen_at > now() - make_interval(secs => ${WORKER_LIVE_S})
        AND NOT EXISTS (SELECT 1 FROM lanes x WHERE x.name = s.name)
    ) l
    -- Recovered runs only: the partial index runs_recovered_idx (lane, status) WHERE recovered.
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE r.status = 'success')::int AS recovered_success,
             count(*) FILTER (WHERE r.status = 'error')::int AS recovered_error,
             count(*) FILTER (WHERE r.status = 'cancelled')::int AS recovered_cancelled,
             count(*) FILTER (WHERE r.status IN ('queued', 'running'))::int AS recovered_pending
      FROM runs r WHERE r.lane = l.name AND r.recovered
    ) rec
    ORDER BY l.name
  `;
}

/** Active runs (with current step and last log line) and the last finished run of each lane. */
export async function laneRuns(
  db: Kysely<Database>,
  perLane = 10,
): Promise<{ active: LaneRunSummary[]; last: LaneRunSummary[] }> {
  const summary = sql`
    r.id, r.lane, r.template, r.status, r.worker_id, r.started_at, r.finished_at, r.heartbeat_at,
    (SELECT e.step FROM run_timeline e WHERE e.run_id = r.id AND e.type = 'step.started' ORDER BY e.seq DESC LIMIT 1) AS current_step,
    (SELECT e.message FROM run_timeline e WHERE e.run_id = r.id AND e.type = 'log' ORDER BY e.seq DESC LIMIT 1) AS last_line`;
  const active = await sql<LaneRunSummary>`
    SELECT ${summary} FROM lanes l CROSS JOIN LATERAL (
      SELECT * FROM runs x WHERE x.lane = l.name AND x.status = 'running' ORDER BY x.started_at LIMIT ${perLane}) r
  `.execute(db);
  const last = await sql<LaneRunSummary>`
    SELECT ${summary} FROM lanes l CROSS JOIN LATERAL (
      SELECT * FROM runs x WHERE x.lane = l.name AND x.finished_at IS NOT NULL ORDER BY x.finished_at DESC LIMIT 1) r
  `.execute(db);
  return { active: active.rows, last: last.rows };
}

/** Change a lane's cap or pause flag (creating the lane if it does not exist yet). */
export async function updateLane(
  db: Kysely<Database>,
  name: string,
  patch: { max_concurrency?: number | null; paused?: boolean },
): Promise<LaneRow> {
  return db
    .insertInto('lanes')
    .values({ name, max_concurrency: patch.max_concurrency ?? null, paused: patch.paused ?? false })
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({
        ...(patch.max_concurrency !== undefined ? { max_concurrency: patch.max_concurrency } : {}),
        ...(patch.paused !== undefined ? { paused: patch.paused } : {}),
        updated_at: sql`now()` as never,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}
