import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
//
// A fast run's timeline folded into its run row (issue 19). Design rule:
// - `runs.timeline` (an array of `run_timeline_event`, the columns of `run_events`, in seq order) holds the
//   run's events with seq 1..n, n its length; `run_events` holds every event with seq > n. The fold is a PREFIX of the timeline: a run is
//   folded (n = last_seq), or folded up to n and rows after it, never anything else.
// - Only the claim and the completion statements fold, and only while the run is wholly folded
//   (n = last_seq) and stays within 32 events and about 4,000 bytes; every other writer (append, cancel, sweeper,
//   release, system events) writes rows as before, which ends the fold for good (n < last_seq). So a no-op
//   run writes its 5 events (claimed, run.started, step.started, step.finished, status) into its own row.
// - NULL means "never fold": runs from before this migration (their events are rows), and a test's twin.
// - Idempotency: folded worker events are written only by a completion, which ends the attempt under its
//   lease, so while an attempt runs no folded event carries its (attempt, attempt_seq): the replay checks of
//   appends and completions still look only at rows. Level/type checks of `run_events` are kept by folding
//   only events that would pass them (else the batch goes to rows and fails as before).
// - Readers read the view `run_timeline` (rows UNION ALL the folded prefix) and see exactly the same events.
// - A composite array, not jsonb: building a jsonb object per event cost ten times more CPU than the row
//   insert it replaced (timestamps and keys encoded as text); a composite array is copied as binary datums.
// Down spills every folded timeline back into rows.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TYPE run_timeline_event AS (
      seq bigint, attempt integer, attempt_seq integer, ts timestamptz, level text, type text, step text,
      message text, data jsonb);
    ALTER TABLE runs ADD COLUMN timeline run_timeline_event[];
    ALTER TABLE runs ALTER COLUMN timeline SET DEFAULT '{}';
    CREATE VIEW run_timeline AS
      SELECT run_id, seq, attempt, attempt_seq, ts, level, type, step, message, data FROM run_events
      UNION ALL
      SELECT r.id, t.seq, t.attempt, t.attempt_seq, t.ts, t.level, t.type, t.step, t.message, t.data
      FROM runs r CROSS JOIN LATERAL unnest(r.timeline) AS t
      WHERE cardinality(r.timeline) > 0;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    INSERT INTO run_events (run_id, seq, attempt, attempt_seq, ts, level, type, step, message, data)
    SELECT r.id, t.seq, t.attempt, t.attempt_seq, t.ts, t.level, t.type, t.step, t.message, t.data
    FROM runs r CROSS JOIN LATERAL unnest(r.timeline) AS t
    WHERE cardinality(r.timeline) > 0;
    DROP VIEW IF EXISTS run_timeline;
    ALTER TABLE runs DROP COLUMN IF EXISTS timeline;
    DROP TYPE IF EXISTS run_timeline_event;
  `.execute(db);
}
