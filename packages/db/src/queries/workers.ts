import { sql, type Kysely } from 'kysely';
import type { Database, WorkerRow } from '../types.js';
import { WORKER_LIVE_S } from './runs.js';

/**
 * Record that a worker is alive (every claim). Returns the boot id it had before, so the caller can tell
 * a restart (same stable id, new boot) and requeue the old boot's leases at once.
 */
export async function registerWorker(
  db: Kysely<Database>,
  input: { id: string; boot_id: string; lanes: string[]; version: string; concurrency: number; hostname?: string },
): Promise<{ previousBoot: string | null }> {
  const { rows } = await sql<{ previous_boot: string | null }>`
    WITH before AS (SELECT boot_id FROM workers WHERE id = ${input.id}),
    -- Lanes exist as soon as a worker serves them, so the runboard shows them before any run.
    lanes_seen AS (INSERT INTO lanes (name) SELECT unnest(${input.lanes}::text[]) ON CONFLICT (name) DO NOTHING),
    upsert AS (
      INSERT INTO workers (id, boot_id, lanes, version, hostname, concurrency, started_at, last_seen_at)
      VALUES (${input.id}, ${input.boot_id}, ${input.lanes}::text[], ${input.version}, ${input.hostname ?? ''},
              ${input.concurrency}, now(), now())
      ON CONFLICT (id) DO UPDATE SET
        boot_id = excluded.boot_id, lanes = excluded.lanes, version = excluded.version,
        concurrency = excluded.concurrency, last_seen_at = now(),
        started_at = CASE WHEN workers.boot_id = excluded.boot_id THEN workers.started_at ELSE now() END
    )
    SELECT (SELECT boot_id FROM before) AS previous_boot
  `.execute(db);
  return { previousBoot: rows[0]?.previous_boot ?? null };
}

export interface WorkerOverview extends WorkerRow {
  live: boolean;
  running: number;
}

/** The fleet, most recently seen first, with liveness and running counts. */
export async function listWorkers(db: Kysely<Database>): Promise<WorkerOverview[]> {
  const { rows } = await sql<WorkerOverview>`
    SELECT w.*, w.last_seen_at > now() - make_interval(secs => ${WORKER_LIVE_S}) AS live,
           (SELECT count(*) FROM runs r WHERE r.worker_id = w.id AND r.status = 'running')::int AS running
    FROM workers w ORDER BY w.last_seen_at DESC LIMIT 1000
  `.execute(db);
  return rows;
}
