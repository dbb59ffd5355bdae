// The 2026-12-04T2200 migration (issue 19): run_events and run_steps lose their per-row foreign-key checks,
// deleting runs still deletes their timeline (statement trigger), an upgraded database keeps its data, and
// the down migration restores the foreign keys.
import t from 'tap';
import pg from 'pg';
import { sql } from 'kysely';
import { buildMigrations, deleteFinishedRuns, migrate } from '@ocr/db';
import { createTestDatabase } from '@ocr/testkit';

const NAME = '2026-12-04T2200-timeline-without-fk-checks';

async function foreignKeys(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query(
    `SELECT conrelid::regclass::text AS tbl FROM pg_constraint
     WHERE contype = 'f' AND confrelid = 'runs'::regclass AND conrelid::regclass::text IN ('run_events', 'run_steps')
     ORDER BY 1`,
  );
  return rows.map((r: { tbl: string }) => r.tbl);
}

/** Make a queued run a finished one with these events (seq 1…), as claim + completion rows. */
async function finishWithTimeline(pool: pg.Pool, runId: string, events: [string, string | null][]) {
  await pool.query(
    `UPDATE runs SET status = 'success', attempt = 1, started_at = now(), finished_at = now(), last_seq = $2 WHERE id = $1`,
    [runId, events.length],
  );
  for (const [i, [type, step]] of events.entries())
    await pool.query(
      `INSERT INTO run_events (run_id, seq, attempt, level, type, step, message) VALUES ($1, $2, 1, 'info', $3, $4, $3)`,
      [runId, i + 1, type, step],
    );
}

/**
 * Queued runs as that schema held them. Not `enqueueRuns`: today's create names every column of today's
 * `runs` (it is a prepared statement), and later migrations add some.
 */
async function insertRuns(pool: pg.Pool, n: number): Promise<{ run: { id: string } }[]> {
  const { rows } = await pool.query(
    `INSERT INTO runs (template, template_version, lane, params) SELECT 'x', 1, 'A', '{}' FROM generate_series(1, $1) RETURNING id`,
    [n],
  );
  return rows.map((row: { id: string }) => ({ run: { id: row.id } }));
}

const count = async (pool: pg.Pool, table: string, runId: string) =>
  (await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE run_id = $1`, [runId])).rows[0]
    .n as number;

t.test(
  'upgrade keeps the timeline, drops the checks, keeps the cascade; down restores the keys',
  async (t) => {
    const { db, url, pool } = await createTestDatabase(t);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
    await admin.end();
    const all = buildMigrations();
    const before = Object.fromEntries(Object.entries(all).filter(([name]) => name < NAME));
    await migrate(db, url, before);
    t.same(await foreignKeys(pool), ['run_events', 'run_steps'], 'before: both tables reference runs');

    // A finished run with a timeline, written by the previous schema.
    await pool.query(`INSERT INTO lanes (name) VALUES ('A')`);
    const [old] = await insertRuns(pool, 1);
    // Written as that schema's statements wrote it (today's claim and completion need later migrations).
    await finishWithTimeline(pool, old!.run.id, [
      ['claimed', null],
      ['step.started', 's'],
      ['step.finished', 's'],
      ['status', null],
    ]);
    await pool.query(
      `INSERT INTO run_steps (run_id, attempt, idx, name, kind, status, finished_at) VALUES ($1, 1, 0, 's', 'noop', 'success', now())`,
      [old!.run.id],
    );
    const eventsBefore = (
      await pool.query(`SELECT * FROM run_events WHERE run_id = $1 ORDER BY seq`, [old!.run.id])
    ).rows;
    t.equal(eventsBefore.length, 4, 'claimed, two step events, status');

    // Up to this migration only: later ones are not what this test is about.
    const upTo = Object.fromEntries(Object.entries(all).filter(([name]) => name <= NAME));
    const { results } = await migrate(db, url, upTo);
    t.same(
      results.map((r) => r.migrationName),
      [NAME],
      'the upgrade applies this migration',
    );
    t.same(await foreignKeys(pool), [], 'after: no foreign-key check on the timeline tables');
    t.same(
      (await pool.query(`SELECT * FROM run_events WHERE run_id = $1 ORDER BY seq`, [old!.run.id])).rows,
      eventsBefore,
      'the timeline is untouched',
    );

    // The cascade, now by trigger: retention's delete takes events and steps along.
    t.equal(await count(pool, 'run_steps', old!.run.id), 1);
    t.same(await deleteFinishedRuns(db, [old!.run.id]), [old!.run.id]);
    t.equal(await count(pool, 'run_events', old!.run.id), 0, 'events deleted with the run');
    t.equal(await count(pool, 'run_steps', old!.run.id), 0, 'steps deleted with the run');

    // Other runs' timelines survive a delete (the trigger joins on the deleted rows only).
    const [keep, drop] = await insertRuns(pool, 2);
    for (const run of [keep!, drop!])
      await finishWithTimeline(pool, run.run.id, [
        ['claimed', null],
        ['status', null],
      ]);
    await deleteFinishedRuns(db, [drop!.run.id]);
    t.equal(await count(pool, 'run_events', keep!.run.id), 2, 'the kept run still has claimed + status');
    t.equal(await count(pool, 'run_events', drop!.run.id), 0);

    // Down: the keys come back (orphans, which the trigger prevents, would be removed first).
    await all[NAME]!.down!(db);
    t.same(await foreignKeys(pool), ['run_events', 'run_steps'], 'down restores both foreign keys');
    await t.rejects(
      sql`INSERT INTO run_events (run_id, seq, attempt, level, type) VALUES (gen_random_uuid(), 1, 1, 'info', 'log')`.execute(
        db,
      ),
      /run_events_run_id_fkey/,
      'and they check again',
    );
  },
);
