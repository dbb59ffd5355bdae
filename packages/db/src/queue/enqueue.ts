import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database, RunRow } from '../types.js';
import { PREPARED } from '../connect.js';
import { ENQUEUE_CHANNEL, notifiedCte, type NotifyOption } from './channels.js';
import { runRowColumns } from './run-columns.js';

/** One run to create; the API has already resolved the template and validated params. */
export interface EnqueueInput {
  template: string;
  template_version: number;
  lane: string;
  params: unknown;
  priority?: number;
  labels?: Record<string, string>;
  max_attempts?: number;
  max_infra_losses?: number;
  retry_policy?: { initial_s: number; factor: number; max_s: number };
  timeout_s?: number | null;
  /** Absolute time; omitted means now (database clock). */
  run_at?: Date | string | null;
  /** Relative delay, applied on the database clock. */
  delay_s?: number | null;
  session_id?: string | null;
  idempotency_key?: string | null;
  /** What identifies the request behind `idempotency_key`, to tell a replay from a different request. */
  idempotency_fingerprint?: string | null;
  retry_of?: string | null;
}

/** What enqueue returns: each run, and whether it already existed (idempotency key replay). */
export interface EnqueueResult {
  run: RunRow;
  created: boolean;
}

/**
 * Create up to 1,000 runs in ONE statement: the input travels as a single jsonb array, lanes that do not
 * exist yet are created, and one NOTIFY per lane wakes long-polling claimers (delivered at commit; with
 * `notify: false` the caller sends it).
 * A repeated `idempotency_key` inserts nothing and returns the original run (`created: false`); the
 * unique index makes this safe against concurrent duplicates too. Results keep the input order.
 *
 * Prepared (`PREPARED`; its text depends only on `notify`): parsed once per connection. A run's `created_at`
 * is its transaction's start, which for a create sent alone is this statement's arrival, so parsing and
 * analysing this statement on every call (half a millisecond at p50 under load: bench/NOTES.md, issue 19
 * fifth pass, h19c) delayed the commit a parked claim waits for. Hence the explicit column list of the
 * answer (`RUN_ROW_COLUMNS`), never `n.*`.
 */
export async function enqueueRuns(
  db: Kysely<Database>,
  inputs: EnqueueInput[],
  options: NotifyOption = {},
): Promise<EnqueueResult[]> {
  if (inputs.length === 0) return [];
  const notified = notifiedCte(
    options,
    sql`SELECT count(pg_notify(${ENQUEUE_CHANNEL}, lane)) AS n FROM (SELECT DISTINCT lane FROM inserted) l`,
  );
  // Ids are minted here so each returned row maps back to its input without relying on RETURNING order.
  const rows = inputs.map((input, ord) => ({
    ord,
    id: randomUUID(),
    template: input.template,
    template_version: input.template_version,
    lane: input.lane,
    priority: input.priority ?? 0,
    params: input.params ?? {},
    labels: input.labels ?? {},
    max_attempts: input.max_attempts ?? 1,
    max_infra_losses: input.max_infra_losses ?? 3,
    retry_policy: input.retry_policy ?? { initial_s: 2, factor: 2, max_s: 60 },
    timeout_s: input.timeout_s ?? null,
    run_at: input.run_at instanceof Date ? input.run_at.toISOString() : (input.run_at ?? null),
    delay_s: input.delay_s ?? null,
    session_id: input.session_id ?? null,
    idempotency_key: input.idempotency_key ?? null,
    idempotency_fingerprint: input.idempotency_fingerprint ?? null,
    retry_of: input.retry_of ?? null,
  }));
  const { rows: found } = await sql<RunRow & { ord: number; created: boolean }>`${sql.raw(PREPARED)}
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(
        ord int, id uuid, template text, template_version int, lane text, priority int, params jsonb,
        labels jsonb, max_attempts int, max_infra_losses int, retry_policy jsonb, timeout_s int,
        run_at timestamptz, delay_s double precision, session_id uuid, idempotency_key text,
        idempotency_fingerprint text, retry_of uuid)
    ),
    new_lanes AS (
      INSERT INTO lanes (name) SELECT DISTINCT lane FROM input ON CONFLICT (name) DO NOTHING
    ),
    inserted AS (
      INSERT INTO runs (id, template, template_version, lane, priority, params, labels, max_attempts,
                        max_infra_losses, retry_policy, timeout_s, run_at, session_id, idempotency_key,
                        idempotency_fingerprint, retry_of)
      SELECT id, template, template_version, lane, priority, params, labels, max_attempts, max_infra_losses,
             retry_policy, timeout_s,
             COALESCE(run_at, now() + make_interval(secs => COALESCE(delay_s, 0))),
             session_id, idempotency_key, idempotency_fingerprint, retry_of
      FROM input ORDER BY ord
      ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING *
    ),
    notified AS (${notified})
    SELECT i.ord, true AS created, ${runRowColumns('n')}
    FROM input i JOIN inserted n ON n.id = i.id
    CROSS JOIN notified
  `.execute(db);
  const results: (EnqueueResult | undefined)[] = new Array(inputs.length);
  for (const { ord, created, ...run } of found) results[ord] = { run: run as RunRow, created };
  // Inputs that inserted nothing replayed an idempotency key (seen by an earlier or concurrent request,
  // or repeated within this batch): answer with the original run, read in a fresh snapshot.
  const replayed = rows.filter((row) => !results[row.ord]);
  if (replayed.length > 0) {
    const keys = replayed.map((row) => row.idempotency_key as string);
    const originals = await db.selectFrom('runs').selectAll().where('idempotency_key', 'in', keys).execute();
    const byKey = new Map(originals.map((run) => [run.idempotency_key, run]));
    for (const row of replayed) {
      const run = byKey.get(row.idempotency_key);
      if (!run) throw new Error(`idempotency key ${row.idempotency_key} neither inserted nor found`);
      results[row.ord] = { run, created: false };
    }
  }
  return results as EnqueueResult[];
}
