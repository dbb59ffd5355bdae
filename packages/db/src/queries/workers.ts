import { sql, type Kysely } from 'kysely';
import type { Database, WorkerRow } from '../types.js';
import { WORKER_LIVE_S } from './runs.js';

/** How a registration went. */
export interface Registration {
  /** False: the id belongs to another token and is live; nothing was written. */
  registered: boolean;
  /**
   * The boot id this worker had before, when the same token registered it: a different one means a
   * restart, and the caller requeues the old boot's leases at once. Null for a new or taken-over identity.
   */
  previousBoot: string | null;
}

/**
 * Record that a worker is alive (claims). A worker id is bound to the token that registered it: another
 * token is refused while the identity is live (seen within WORKER_LIVE_S), and may take over a dead one
 * without restart detection (its leases are left to the sweeper). Claims never create lanes.
 */
export async function registerWorker(
  db: Kysely<Database>,
  input: {
    id: string;
    boot_id: string;
    lanes: string[];
    version: string;
    concurrency: number;
    hostname?: string;
    token_id: string;
  },
): Promise<Registration> {
  const { rows } = await sql<{
    previous_boot: string | null;
    previous_token: string | null;
    registered: boolean;
  }>`
    WITH before AS (SELECT boot_id, token_id FROM workers WHERE id = ${input.id}),
    upsert AS (
      INSERT INTO workers (id, boot_id, lanes, version, hostname, concurrency, started_at, last_seen_at, token_id)
      VALUES (${input.id}, ${input.boot_id}, ${input.lanes}::text[], ${input.version}, ${input.hostname ?? ''},
              ${input.concurrency}, now(), now(), ${input.token_id}::uuid)
      ON CONFLICT (id) DO UPDATE SET
        boot_id = excluded.boot_id, lanes = excluded.lanes, version = excluded.version,
        concurrency = excluded.concurrency, last_seen_at = now(), token_id = excluded.token_id,
        started_at = CASE WHEN workers.boot_id = excluded.boot_id THEN workers.started_at ELSE now() END
      -- Rows from before tokens were recorded (NULL) are adopted by the first token that claims as them.
      WHERE workers.token_id IS NULL OR workers.token_id = excluded.token_id
         OR workers.last_seen_at < now() - make_interval(secs => ${WORKER_LIVE_S})
      RETURNING 1
    )
    SELECT (SELECT boot_id FROM before) AS previous_boot, (SELECT token_id FROM before) AS previous_token,
           EXISTS (SELECT 1 FROM upsert) AS registered
  `.execute(db);
  const row = rows[0]!;
  if (!row.registered) return { registered: false, previousBoot: null };
  const sameToken = row.previous_token === null || row.previous_token === input.token_id;
  return { registered: true, previousBoot: sameToken ? row.previous_boot : null };
}

export interface WorkerOverview extends WorkerRow {
  live: boolean;
  running: number;
}

/** The fleet, most recently seen first, with liveness and running counts. */
export async function listWorkers(db: Kysely<Database>): Promise<WorkerOverview[]> {
  const { rows } = await sql<WorkerOverview>`
    SELECT w.*, w.last_seen_at > now() - make_interval(secs => ${WORKER_LIVE_S}) AS live,
           COALESCE(c.n, 0)::int AS running
    FROM workers w
    -- One pass over the running runs (runs_running_idx holds them by lane, then worker), not a probe per worker.
    LEFT JOIN (SELECT r.worker_id, count(*) AS n FROM runs r WHERE r.status = 'running' GROUP BY r.worker_id) c
      ON c.worker_id = w.id
    ORDER BY w.last_seen_at DESC LIMIT 1000
  `.execute(db);
  return rows;
}
