import { sql, type Kysely, type Selectable, type SelectQueryBuilder } from 'kysely';
import type { Database, RunRow, RunStepRow } from '../types.js';

/** A worker counts as live when it was heard from (claim or heartbeat) this recently. */
export const WORKER_LIVE_S = 60;

export async function getRun(db: Kysely<Database>, id: string): Promise<RunRow | undefined> {
  return db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Lane and template of these runs (what a scoped token's access is decided on); missing ids are left out. */
export async function runScopes(
  db: Kysely<Database>,
  ids: string[],
): Promise<Pick<RunRow, 'id' | 'lane' | 'template'>[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('runs').select(['id', 'lane', 'template']).where('id', 'in', ids).execute();
}

/** A run's steps: the `run_steps_all` view, rows and the step rows folded into the run row, the same either way. */
export async function getRunSteps(db: Kysely<Database>, id: string): Promise<RunStepRow[]> {
  return db
    .selectFrom('run_steps_all')
    .selectAll()
    .where('run_id', '=', id)
    .orderBy('attempt')
    .orderBy('idx')
    .execute();
}

export interface ListRunsFilter {
  status?: string;
  lane?: string;
  template?: string;
  session_id?: string;
  created_after?: string;
  created_before?: string;
  q?: string;
  /** Only these lanes (a scoped token's allowlist); absent: every lane. */
  lanes?: string[];
  /** Only these templates (a scoped token's allowlist); absent: every template. */
  templates?: string[];
  /** Key/value filter: runs whose non-secret params contain this object. */
  params?: Record<string, unknown>;
  limit: number;
  cursor?: { created_at: string; id: string };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `q` as an ILIKE substring pattern: its own %, _ and \ match literally. */
export function substringPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * History, newest first, keyset-paged on (created_at, id) so deep pages cost the same as the first.
 * `q` matches a run id exactly, or case-insensitively a substring of its `run_search.search_text` (template
 * name, non-secret params, labels; trigram index); `params` keeps runs whose non-secret params contain that
 * object (`run_search.search_params @>`, jsonb_path_ops index). Both are semi-joins on `run_search`, the side
 * table that keeps these indexes off the hot `runs` table. Secret params are never in either column (the
 * runs_search migration's trigger), so no filter can probe a secret's value. Every value is a bound parameter.
 */
function listRunsQuery(db: Kysely<Database>, filter: ListRunsFilter) {
  // The history indexes leave out running rows (migration 2026-12-05T0800: a claim then inserts into none of
  // them); running runs come from runs_running_idx. A status filter picks its side; without one, each side
  // is ordered and limited on its own index and the two short lists are merged.
  const side = (running: boolean) => {
    let query = db.selectFrom('runs').selectAll();
    query = running ? query.where('status', '=', 'running') : query.where('status', '<>', 'running');
    return filtered(query, filter).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit);
  };
  if (filter.status === 'running') return side(true);
  if (filter.status) return side(false);
  return db
    .selectFrom(
      db
        .selectFrom(side(false).as('history'))
        .selectAll()
        .unionAll(db.selectFrom(side(true).as('active')).selectAll())
        .as('runs'),
    )
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit);
}

type RunsQuery = SelectQueryBuilder<Database, 'runs', Selectable<Database['runs']>>;

function filtered(query: RunsQuery, filter: ListRunsFilter): RunsQuery {
  if (filter.status === 'scheduled')
    query = query.where('status', '=', 'queued').where('run_at', '>', sql<Date>`now()`);
  else if (filter.status && filter.status !== 'running')
    query = query.where('status', '=', filter.status as RunRow['status']);
  if (filter.lane) query = query.where('lane', '=', filter.lane);
  if (filter.template) query = query.where('template', '=', filter.template);
  if (filter.lanes) query = query.where('lane', '=', sql<string>`ANY(${filter.lanes}::text[])`);
  if (filter.templates) query = query.where('template', '=', sql<string>`ANY(${filter.templates}::text[])`);
  if (filter.session_id) query = query.where('session_id', '=', filter.session_id);
  if (filter.created_after) query = query.where('created_at', '>=', new Date(filter.created_after));
  if (filter.created_before) query = query.where('created_at', '<', new Date(filter.created_before));
  if (filter.params)
    query = query.where(
      sql<boolean>`runs.id IN (SELECT s.run_id FROM run_search s WHERE s.search_params @> ${JSON.stringify(filter.params)}::jsonb)`,
    );
  if (filter.q) {
    const q = filter.q;
    if (UUID.test(q)) query = query.where('id', '=', q);
    else
      query = query.where(
        sql<boolean>`runs.id IN (SELECT s.run_id FROM run_search s WHERE s.search_text ILIKE ${substringPattern(q)})`,
      );
  }
  if (filter.cursor) {
    const { created_at, id } = filter.cursor;
    query = query.where(sql<boolean>`(created_at, id) < (${created_at}::timestamptz, ${id}::uuid)`);
  }
  return query;
}

export async function listRuns(db: Kysely<Database>, filter: ListRunsFilter): Promise<RunRow[]> {
  return (await listRunsQuery(db, filter).execute()) as RunRow[];
}

/** The plan PostgreSQL picks for a history query (EXPLAIN, not run): tests and benchmarks check its indexes. */
export async function explainListRuns(db: Kysely<Database>, filter: ListRunsFilter): Promise<string> {
  const rows = await listRunsQuery(db, filter).explain();
  return rows.map((r) => String(r['QUERY PLAN'])).join('\n');
}

/** What decides whether a lane's queued runs can start. */
export interface LaneState {
  name: string;
  paused: boolean;
  max_concurrency: number | null;
  running: number;
  workers_live: number;
}

export async function laneStates(db: Kysely<Database>, lanes: string[]): Promise<Map<string, LaneState>> {
  if (lanes.length === 0) return new Map();
  const { rows } = await sql<LaneState>`
    SELECT l.name, l.paused, l.max_concurrency,
           (SELECT count(*) FROM runs r WHERE r.lane = l.name AND r.status = 'running')::int AS running,
           (SELECT count(*) FROM workers w WHERE l.name = ANY(w.lanes)
              AND w.last_seen_at > now() - make_interval(secs => ${WORKER_LIVE_S}))::int AS workers_live
    FROM lanes l WHERE l.name = ANY(${lanes}::text[])
  `.execute(db);
  return new Map(rows.map((row) => [row.name, row]));
}

/** "Why isn't this running", as data: null unless the run is queued. */
export function waitReason(
  run: Pick<RunRow, 'status' | 'run_at' | 'attempt' | 'lane'>,
  lane: LaneState | undefined,
  now = new Date(),
): string | null {
  if (run.status !== 'queued') return null;
  if (run.run_at > now) {
    return run.attempt > 0
      ? `backoff until ${run.run_at.toISOString()}`
      : `scheduled for ${run.run_at.toISOString()}`;
  }
  if (!lane) return `waiting for a worker on lane ${run.lane}`;
  if (lane.paused) return `lane ${run.lane} is paused`;
  if (lane.max_concurrency !== null && lane.running >= lane.max_concurrency) {
    return `lane ${run.lane} is at its concurrency cap (${lane.max_concurrency})`;
  }
  if (lane.workers_live === 0) return `no live worker for lane ${run.lane}`;
  return `waiting for a free worker on lane ${run.lane}`;
}
