import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
//
// A fast run's step rows folded into its run row, with its timeline (issue 19; timeline.ts). Design rule:
// - `runs.steps` (an array of `run_step_row`, the columns of `run_steps` but `run_id`) holds the step rows of
//   the attempts whose completion folded its events into `runs.timeline`; `run_steps` holds every other step
//   row. The completion decides once per run (`fold`) and its events and step rows follow the same decision:
//   steps fold exactly when the timeline folds, and go to rows exactly when it does not.
// - A folded completion ends its attempt under the attempt's lease, and no rows of that attempt exist (an
//   append would have ended the fold), so a folded step row is final: nothing upserts (run, attempt, idx)
//   again (later appends and completions are fenced; a retry is a new attempt). The two sets never overlap.
// - Readers read the view `run_steps_all` (rows UNION ALL the folded ones) and see exactly the same steps.
// - A composite array, not jsonb, for the reason the timeline is one (its migration, 2026-12-05T0400).
// - NULL or empty: nothing folded (runs from before this migration, and runs that never fold).
// Down spills every folded step row back into `run_steps`.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TYPE run_step_row AS (
      attempt integer, idx integer, name text, kind text, status text, started_at timestamptz,
      finished_at timestamptz, exit_code integer);
    ALTER TABLE runs ADD COLUMN steps run_step_row[];
    ALTER TABLE runs ALTER COLUMN steps SET DEFAULT '{}';
    CREATE VIEW run_steps_all AS
      SELECT run_id, attempt, idx, name, kind, status, started_at, finished_at, exit_code FROM run_steps
      UNION ALL
      SELECT r.id, s.attempt, s.idx, s.name, s.kind, s.status, s.started_at, s.finished_at, s.exit_code
      FROM runs r CROSS JOIN LATERAL unnest(r.steps) AS s
      WHERE cardinality(r.steps) > 0;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    INSERT INTO run_steps (run_id, attempt, idx, name, kind, status, started_at, finished_at, exit_code)
    SELECT r.id, s.attempt, s.idx, s.name, s.kind, s.status, s.started_at, s.finished_at, s.exit_code
    FROM runs r CROSS JOIN LATERAL unnest(r.steps) AS s
    WHERE cardinality(r.steps) > 0;
    DROP VIEW IF EXISTS run_steps_all;
    ALTER TABLE runs DROP COLUMN IF EXISTS steps;
    DROP TYPE IF EXISTS run_step_row;
  `.execute(db);
}
