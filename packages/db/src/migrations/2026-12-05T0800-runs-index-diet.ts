import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
//
// Fewer index insertions per status change (issue 19). A claim and a completion change `status`, so both are
// non-HOT updates: each inserts the new row version into EVERY index on `runs` whose predicate it matches,
// whatever columns changed. Before this, a claim inserted into 8 indexes (pkey, three `status = 'running'`
// partial indexes, and the four history indexes) and a completion into 6.
// - The three running indexes become one, (lane, worker_id) WHERE status = 'running': lane counts (claim caps,
//   lane figures) read its leading column; the fleet view counts running runs per worker in one pass over it;
//   the sweeper's stale scan and restart detection filter the running rows it holds (as many as the fleet's
//   concurrency, not the history). `heartbeat_at` is no longer indexed at all, so a heartbeat (or an append,
//   which moves it) changes no indexed column and may be a HOT update.
// - The history indexes (created, status, lane, template, session; all keyset-paged on created_at, id) leave out
//   running rows (`WHERE status <> 'running'`): a claim no longer inserts into them; a completion does, as
//   before. The history listing reads running runs from the running index (listRuns: one arm per side of the
//   predicate, each ordered and limited, merged).
// So a claim inserts into 2 indexes (pkey, running), a completion into 6.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX runs_running_idx, runs_heartbeat_idx, runs_worker_idx;
    CREATE INDEX runs_running_idx ON runs (lane, worker_id) WHERE status = 'running';
    DROP INDEX runs_created_idx, runs_status_created_idx, runs_lane_created_idx, runs_template_created_idx,
      runs_session_idx;
    CREATE INDEX runs_created_idx ON runs (created_at DESC, id DESC) WHERE status <> 'running';
    CREATE INDEX runs_status_created_idx ON runs (status, created_at DESC, id DESC) WHERE status <> 'running';
    CREATE INDEX runs_lane_created_idx ON runs (lane, created_at DESC, id DESC) WHERE status <> 'running';
    CREATE INDEX runs_template_created_idx ON runs (template, created_at DESC, id DESC) WHERE status <> 'running';
    CREATE INDEX runs_session_idx ON runs (session_id, created_at DESC)
      WHERE session_id IS NOT NULL AND status <> 'running';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX runs_running_idx;
    CREATE INDEX runs_running_idx ON runs (lane) WHERE status = 'running';
    CREATE INDEX runs_heartbeat_idx ON runs (heartbeat_at) WHERE status = 'running';
    CREATE INDEX runs_worker_idx ON runs (worker_id) WHERE status = 'running';
    DROP INDEX runs_created_idx, runs_status_created_idx, runs_lane_created_idx, runs_template_created_idx,
      runs_session_idx;
    CREATE INDEX runs_created_idx ON runs (created_at DESC, id DESC);
    CREATE INDEX runs_status_created_idx ON runs (status, created_at DESC, id DESC);
    CREATE INDEX runs_lane_created_idx ON runs (lane, created_at DESC, id DESC);
    CREATE INDEX runs_template_created_idx ON runs (template, created_at DESC, id DESC);
    CREATE INDEX runs_session_idx ON runs (session_id, created_at DESC) WHERE session_id IS NOT NULL;
  `.execute(db);
}
