import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
//
// Run search leaves the hot `runs` table (issue 19). Its two GIN indexes (trigram over `search_text`,
// jsonb_path_ops over `search_params`) were re-inserted into on every non-HOT update of a run: the claim
// and the completion, twice per run, for values that never change after the insert. They now index a side
// table, `run_search`, one row per run, written once when the run is inserted.
//
// Expand only (docs/upgrade.md): the previous release still reads `runs.search_text`/`search_params`, so
// the columns stay, filled by the runs_search_fields trigger as before (only their indexes go: that
// release's search still answers right, by a scan). `run_search` copies them in an AFTER INSERT statement
// trigger (one INSERT per enqueue batch), follows the rare update of params, labels or template, is emptied
// with the run (delete, retention, TRUNCATE) and travels in backups like any table. The contract release
// drops the columns and computes the row in the insert trigger itself.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE run_search (
      run_id        uuid PRIMARY KEY,
      search_params jsonb NOT NULL,
      search_text   text NOT NULL
    )`.execute(db);
  // Existing runs first, before anything locks runs against writes (this reads it, nothing more).
  await sql`
    INSERT INTO run_search (run_id, search_params, search_text)
    SELECT id, coalesce(search_params, '{}'::jsonb), coalesce(search_text, '') FROM runs`.execute(db);
  await sql`CREATE INDEX run_search_text_trgm_idx ON run_search USING gin (search_text gin_trgm_ops)`.execute(
    db,
  );
  await sql`CREATE INDEX run_search_params_idx ON run_search USING gin (search_params jsonb_path_ops)`.execute(
    db,
  );
  // A restore inserts run_search before runs (name order, no foreign key): the run row's columns, which
  // the runs_search_fields trigger kept or recomputed, win.
  await sql`
    CREATE FUNCTION ocr_run_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO run_search (run_id, search_params, search_text)
      SELECT id, coalesce(search_params, '{}'::jsonb), coalesce(search_text, '') FROM inserted_runs
      ON CONFLICT (run_id) DO UPDATE SET search_params = excluded.search_params, search_text = excluded.search_text;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE FUNCTION ocr_run_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO run_search (run_id, search_params, search_text)
      VALUES (NEW.id, coalesce(NEW.search_params, '{}'::jsonb), coalesce(NEW.search_text, ''))
      ON CONFLICT (run_id) DO UPDATE SET search_params = excluded.search_params, search_text = excluded.search_text;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE FUNCTION ocr_run_search_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM run_search s USING deleted_runs d WHERE s.run_id = d.id;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE FUNCTION ocr_run_search_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      TRUNCATE run_search;
      RETURN NULL;
    END $$`.execute(db);
  // From here on runs is locked against writes until this migration commits: catch up with the runs
  // inserted while the table was filled and indexed, then let the triggers keep it. (Nothing in the product
  // updates params, labels or template after the insert.)
  await sql`
    CREATE TRIGGER runs_search_insert AFTER INSERT ON runs
      REFERENCING NEW TABLE AS inserted_runs FOR EACH STATEMENT EXECUTE FUNCTION ocr_run_search_insert()`.execute(
    db,
  );
  // Fires only for an UPDATE that sets one of these columns: never for a claim, heartbeat or completion.
  await sql`
    CREATE TRIGGER runs_search_update
      AFTER UPDATE OF params, labels, template, template_version, search_params, search_text ON runs
      FOR EACH ROW
      WHEN (OLD.search_params IS DISTINCT FROM NEW.search_params OR OLD.search_text IS DISTINCT FROM NEW.search_text)
      EXECUTE FUNCTION ocr_run_search_update()`.execute(db);
  await sql`
    CREATE TRIGGER runs_search_delete AFTER DELETE ON runs
      REFERENCING OLD TABLE AS deleted_runs FOR EACH STATEMENT EXECUTE FUNCTION ocr_run_search_delete()`.execute(
    db,
  );
  await sql`
    CREATE TRIGGER runs_search_truncate AFTER TRUNCATE ON runs
      FOR EACH STATEMENT EXECUTE FUNCTION ocr_run_search_truncate()`.execute(db);
  await sql`
    INSERT INTO run_search (run_id, search_params, search_text)
    SELECT id, coalesce(search_params, '{}'::jsonb), coalesce(search_text, '') FROM runs r
    WHERE NOT EXISTS (SELECT 1 FROM run_search s WHERE s.run_id = r.id)`.execute(db);
  await sql`DROP INDEX IF EXISTS runs_search_text_trgm_idx`.execute(db);
  await sql`DROP INDEX IF EXISTS runs_search_params_idx`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // runs.search_* were kept up to date all along: only their indexes come back.
  await sql`CREATE INDEX runs_search_text_trgm_idx ON runs USING gin (search_text gin_trgm_ops)`.execute(db);
  await sql`CREATE INDEX runs_search_params_idx ON runs USING gin (search_params jsonb_path_ops)`.execute(db);
  await sql`
    DROP TRIGGER IF EXISTS runs_search_insert ON runs;
    DROP TRIGGER IF EXISTS runs_search_update ON runs;
    DROP TRIGGER IF EXISTS runs_search_delete ON runs;
    DROP TRIGGER IF EXISTS runs_search_truncate ON runs;
    DROP FUNCTION IF EXISTS ocr_run_search_insert();
    DROP FUNCTION IF EXISTS ocr_run_search_update();
    DROP FUNCTION IF EXISTS ocr_run_search_delete();
    DROP FUNCTION IF EXISTS ocr_run_search_truncate();
    DROP TABLE IF EXISTS run_search;
  `.execute(db);
}
