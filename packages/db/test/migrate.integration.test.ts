import t from 'tap';
import pg from 'pg';
import { connect, knownMigrations, migrateToLatest } from '@ocr/db';
import { createTestDatabase } from '@ocr/testkit';

t.test('migrations are idempotent and safe from several processes at once', async (t) => {
  // Start from an empty database (not the migrated template).
  const holder = await createTestDatabase(t);
  const admin = new pg.Client({ connectionString: holder.url });
  await admin.connect();
  await admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  await admin.end();
  const handles = Array.from({ length: 5 }, () => connect(holder.url, { max: 2 }));
  t.teardown(() => Promise.all(handles.map((h) => h.close())));
  const results = await Promise.all(handles.map((h) => migrateToLatest(h.db, holder.url)));
  const applied = results
    .flat()
    .filter((r) => r.status === 'Success')
    .map((r) => r.migrationName);
  t.same(applied, knownMigrations(), 'each migration applied exactly once across concurrent migrators');
  const again = await migrateToLatest(handles[0]!.db, holder.url);
  t.same(again, [], 'a second run has nothing to do');
  const { rows } = await holder.pool
    .query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN
    ('sessions','run_templates','runs','run_steps','run_events','artifacts','spec_docs','lanes','workers','api_tokens')`);
  t.equal(rows[0].n, 10, 'every table of the brief exists');
});

t.test('CHECK constraints hold the run state machine', async (t) => {
  const { pool } = await createTestDatabase(t);
  await pool.query(`INSERT INTO lanes (name) VALUES ('A')`);
  await t.rejects(
    pool.query(`INSERT INTO runs (template, template_version, lane, status) VALUES ('x', 1, 'A', 'bogus')`),
    /runs_status_check/,
  );
  await t.rejects(
    pool.query(`INSERT INTO runs (template, template_version, lane, status) VALUES ('x', 1, 'A', 'running')`),
    /runs_lease_iff_running|runs_claimed_before_running/,
  );
  await t.rejects(
    pool.query(
      `INSERT INTO runs (template, template_version, lane, status, attempt, started_at) VALUES ('x', 1, 'A', 'running', 1, now())`,
    ),
    /runs_lease_iff_running/,
  );
  await t.rejects(
    pool.query(`INSERT INTO runs (template, template_version, lane, status) VALUES ('x', 1, 'A', 'success')`),
    /runs_finished_iff_terminal/,
  );
  await t.rejects(
    pool.query(
      `INSERT INTO runs (template, template_version, lane, finished_at) VALUES ('x', 1, 'A', now())`,
    ),
    /runs_finished_iff_terminal/,
  );
});
