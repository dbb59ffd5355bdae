import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
//
// The timeline tables lose their foreign keys to `runs` (issue 19): each one cost a `SELECT … FOR KEY SHARE`
// on the run row per inserted event or step row, 6 per no-op run and 1,000 per 1,000-event append, on the
// hottest writes there are. Integrity does not depend on them: every statement that writes `run_events`
// or `run_steps` (packages/db: claim, append, complete, release, cancel, sweep, system events) selects the
// run row it writes for, locked or updated in that same statement, so the run exists when the event
// commits, and runs are deleted only when finished, after which nothing appends to them. What the foreign
// keys also did, `ON DELETE CASCADE`, is kept by a statement-level trigger: deleting runs deletes their
// events and steps in the same transaction, with one join per statement instead of one check per row.
// Expand-only for an older build (docs/upgrade.md): its writers are the same statements and its retention
// relies on the cascade, which the trigger keeps.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE run_events DROP CONSTRAINT IF EXISTS run_events_run_id_fkey;
    ALTER TABLE run_steps DROP CONSTRAINT IF EXISTS run_steps_run_id_fkey;
    CREATE FUNCTION runs_delete_timeline() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM run_events e USING deleted_runs d WHERE e.run_id = d.id;
      DELETE FROM run_steps s USING deleted_runs d WHERE s.run_id = d.id;
      RETURN NULL;
    END $$;
    CREATE TRIGGER runs_delete_timeline AFTER DELETE ON runs
      REFERENCING OLD TABLE AS deleted_runs FOR EACH STATEMENT EXECUTE FUNCTION runs_delete_timeline();
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TRIGGER IF EXISTS runs_delete_timeline ON runs;
    DROP FUNCTION IF EXISTS runs_delete_timeline();
    DELETE FROM run_events e WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = e.run_id);
    DELETE FROM run_steps s WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = s.run_id);
    ALTER TABLE run_events ADD CONSTRAINT run_events_run_id_fkey FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE;
    ALTER TABLE run_steps ADD CONSTRAINT run_steps_run_id_fkey FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE;
  `.execute(db);
}
