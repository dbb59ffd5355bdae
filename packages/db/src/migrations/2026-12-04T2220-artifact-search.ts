import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// Artifact search across runs (GET /v1/artifacts): "the last plan.diff of template X", "every image lane B
// produced this week", at a million artifacts. Template and lane are copied from the run when an artifact is
// inserted (a trigger: a run's template and lane never change), so each filter has its own keyset index and
// no search joins runs. Names are searched by pattern through a trigram index.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`.execute(db);
  await sql`ALTER TABLE artifacts ADD COLUMN template text, ADD COLUMN lane text`.execute(db);
  await sql`
    CREATE FUNCTION ocr_artifacts_run_fields() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      SELECT r.template, r.lane INTO NEW.template, NEW.lane FROM runs r WHERE r.id = NEW.run_id;
      RETURN NEW;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER artifacts_run_fields BEFORE INSERT ON artifacts
    FOR EACH ROW EXECUTE FUNCTION ocr_artifacts_run_fields()`.execute(db);
  await sql`UPDATE artifacts a SET template = r.template, lane = r.lane FROM runs r WHERE r.id = a.run_id`.execute(
    db,
  );
  await sql`ALTER TABLE artifacts ALTER COLUMN template SET NOT NULL, ALTER COLUMN lane SET NOT NULL`.execute(
    db,
  );
  // Newest first, keyset on (created_at, id): alone, and behind each equality filter.
  await sql`CREATE INDEX artifacts_created_idx ON artifacts (created_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX artifacts_template_created_idx ON artifacts (template, created_at DESC, id DESC)`.execute(
    db,
  );
  await sql`CREATE INDEX artifacts_lane_created_idx ON artifacts (lane, created_at DESC, id DESC)`.execute(
    db,
  );
  await sql`CREATE INDEX artifacts_kind_created_idx ON artifacts (kind, created_at DESC, id DESC)`.execute(
    db,
  );
  await sql`CREATE INDEX artifacts_type_created_idx ON artifacts (content_type, created_at DESC, id DESC)`.execute(
    db,
  );
  await sql`CREATE INDEX artifacts_size_idx ON artifacts (size)`.execute(db);
  await sql`CREATE INDEX artifacts_name_trgm_idx ON artifacts USING gin (name gin_trgm_ops)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const index of [
    'created',
    'template_created',
    'lane_created',
    'kind_created',
    'type_created',
    'size',
    'name_trgm',
  ])
    await sql`DROP INDEX IF EXISTS ${sql.id(`artifacts_${index}_idx`)}`.execute(db);
  await sql`DROP TRIGGER IF EXISTS artifacts_run_fields ON artifacts`.execute(db);
  await sql`DROP FUNCTION IF EXISTS ocr_artifacts_run_fields()`.execute(db);
  await sql`ALTER TABLE artifacts DROP COLUMN IF EXISTS template, DROP COLUMN IF EXISTS lane`.execute(db);
}
