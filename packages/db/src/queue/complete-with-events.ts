import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, RunRow } from '../types.js';
import { backoffInterval } from './backoff.js';
import { eventArrays, stepRows, type EventInput } from './events.js';
import { appendEventsMany } from './events.js';
import { completeRuns, type Completion } from './lease.js';
import { fenced, type Fenced } from './fence.js';
import { sanitizeJson } from './sanitize.js';
import { hotRunColumns, type HotRun } from './run-columns.js';
import { PREPARED } from '../connect.js';
import { foldable } from './timeline.js';

/** A completion with the attempt's last events (what the worker had not sent yet). */
export interface CompletionWithEvents extends Completion {
  events?: EventInput[];
}

/** What a completion batch needs back: enough for hints, metrics and the answer, not the whole row. */
export interface CompletionSummary {
  id: string;
  status: RunRow['status'];
  last_seq: number;
  requeued: boolean;
  /** Worker events newly stored by this call (a replayed batch stores 0). */
  accepted: number;
}

/**
 * Store the attempts' last events and finish the attempts, for any number of runs, in ONE statement and so
 * one commit: the run row is updated once per run (its `last_seq` moves past the worker's new events and
 * the `status`/`requeued` event at once), with no transaction held open across round trips.
 *
 * It is `appendEventsMany` followed by `completeRuns` in one transaction, written as one statement, and
 * stores exactly the same rows: the worker's events numbered `last_seq + 1 …` in their seq order (replays
 * of already stored worker seqs skipped, as an append does), then the status event, `run_steps` upserted
 * from step events; while the run's timeline is folded and small, the events go into the run row instead
 * (timeline.ts), the same events as the rows would hold, and the step rows with them (`runs.steps`). Fencing: only a row still `running` under the presented token is touched, and it is
 * locked (in id order, so concurrent batches never deadlock) before anything is written for it; a run whose
 * lease is gone gets neither its events nor its completion, and says why (`lease_lost`, `not_found`).
 * A run named twice in one call falls back to the two statements in one transaction.
 */
export async function completeRunsWithEvents(
  db: Kysely<Database>,
  items: CompletionWithEvents[],
): Promise<Fenced<CompletionSummary>[]> {
  if (items.length === 0) return [];
  if (new Set(items.map((item) => item.runId)).size !== items.length) return inTransaction(db, items);
  return withEvents<CompletionSummary>(db, items, false);
}

/** A run as `completeRunWithEvents` answers it: the route puts it on the wire. */
export type CompletedHotRun = HotRun & { requeued: boolean; accepted: number };

/**
 * One run's completion with its last events (`POST /v1/runs/:id/complete`), in the same ONE statement,
 * answered with the run's wire columns (the route returns the run).
 */
export async function completeRunWithEvents(
  db: Kysely<Database>,
  item: CompletionWithEvents,
): Promise<Fenced<CompletedHotRun>> {
  const [result] = await withEvents<CompletedHotRun>(db, [item], true);
  return result!;
}

/**
 * The statement; `full` returns the run's wire columns, else only what a batch answer needs. Prepared
 * (`PREPARED`: two texts, `full` or not; data only in parameters) instead of parsed and planned on every
 * call. The result columns are named, never `r.*`, so a column added
 * to `runs` by a migration leaves the prepared statement valid.
 */
async function withEvents<T extends { id: string }>(
  db: Kysely<Database>,
  items: CompletionWithEvents[],
  full: boolean,
): Promise<Fenced<T>[]> {
  const valid = items.filter((c) => isUuid(c.runId) && isUuid(c.leaseToken));
  const applied = new Map<string, T>();
  if (valid.length > 0) {
    const ev = eventArrays(valid.flatMap((c) => (c.events ?? []).map((e) => ({ runId: c.runId, event: e }))));
    const steps = stepRows(ev.clean);
    // Each run's step rows are contiguous in \`steps\` (events come run by run): its slice [lo, hi], 1-based.
    const slices = new Map<string, [number, number]>();
    steps.forEach((s, i) => {
      const slice = slices.get(s.run_id);
      if (slice) slice[1] = i + 1;
      else slices.set(s.run_id, [i + 1, i + 1]);
    });
    const slice = (c: CompletionWithEvents) => slices.get(c.runId) ?? [1, 0];
    const json = (value: unknown) => (value == null ? null : JSON.stringify(sanitizeJson(value)));
    const { rows } = await sql<T>`${sql.raw(PREPARED)}
      WITH input AS (
        SELECT * FROM unnest(${valid.map((c) => c.runId)}::uuid[], ${valid.map((c) => c.leaseToken)}::uuid[],
                             ${valid.map((c) => c.status)}::text[], ${valid.map((c) => json(c.error))}::jsonb[],
                             ${valid.map((c) => json(c.output))}::jsonb[], ${valid.map(foldSize)}::int[],
                             ${valid.map((c) => c.events?.length ?? 0)}::int[], ${valid.map((c) => slice(c)[0])}::int[],
                             ${valid.map((c) => slice(c)[1])}::int[])
          AS x(id, token, status, error, output, fold_bytes, n_events, step_lo, step_hi)
      ),
      ev AS (
        SELECT * FROM unnest(${ev.runIds}::uuid[], ${ev.seqs}::int[], ${ev.ts}::timestamptz[], ${ev.levels}::text[],
                             ${ev.types}::text[], ${ev.steps}::text[], ${ev.messages}::text[], ${ev.data}::jsonb[])
          AS x(run_id, seq, ts, level, type, step, message, data)
      ),
      run AS (
        SELECT r.id, r.attempt, r.last_seq, i.error, i.output, i.step_lo, i.step_hi,
               CASE
                 WHEN r.cancel_requested AND i.status <> 'success' THEN 'cancelled'
                 WHEN i.status = 'error' AND r.attempt - r.infra_losses - r.releases < r.max_attempts THEN 'queued'
                 ELSE i.status
               END AS next_status,
               now() + ${backoffInterval(sql`r.attempt - r.infra_losses - r.releases`)} AS retry_at, r.run_at,
               -- Whether this batch and the status event fold into the run row (timeline.ts), decided on the
               -- locked row: a wholly folded run has no rows, so every event of the batch is new.
               -- The run's folded step rows count against the same byte bound (their migration, 2026-12-05T0810).
               i.fold_bytes IS NOT NULL AND ${foldable('r', sql`i.n_events + 1`, sql`i.fold_bytes + COALESCE(pg_column_size(i.error), 0) + COALESCE(pg_column_size(r.steps), 0)`)} AS fold
        -- The token match alone is the fence (PLAN-STABLE, fence.ts).
        FROM runs r JOIN input i ON r.id = i.id AND r.lease_token = i.token
        ORDER BY r.id
        FOR UPDATE OF r
      ),
      bounds AS (
        SELECT run_id, min(seq) AS lo, max(seq) AS hi FROM ev GROUP BY run_id
      ),
      existing AS MATERIALIZED (
        SELECT e.run_id, e.attempt_seq FROM run JOIN bounds b ON b.run_id = run.id
        JOIN run_events e ON e.run_id = run.id AND e.attempt = run.attempt AND e.attempt_seq BETWEEN b.lo AND b.hi
      ),
      fresh AS (
        SELECT e.*, run.attempt, run.last_seq AS base, run.fold, run.next_status, run.retry_at, run.error AS run_error,
               run.output AS run_output, run.step_lo, run.step_hi,
               row_number() OVER (PARTITION BY e.run_id ORDER BY e.seq) AS n
        FROM ev e JOIN run ON run.id = e.run_id
        WHERE (e.run_id, e.seq) NOT IN (SELECT run_id, attempt_seq FROM existing)
      ),
      -- One row per run: its decision (from \`run\`) with its new events counted and, folding, aggregated; runs
      -- without new events by a hashed anti-join. The UPDATE then joins nothing but the run rows: a join of two
      -- CTEs is planned as a nested loop on the generic plan's guesses (every CTE 1 row), quadratic in the batch.
      -- Computed once (materialized): inlined, the planner re-ran the aggregate for every run it joined.
      counted AS MATERIALIZED (
        SELECT run_id AS id, next_status, retry_at, run_error AS error, run_output AS output, fold, step_lo, step_hi,
               count(*)::int AS n,
               array_agg(ROW(base + n, attempt, seq, COALESCE(ts, now()), level, type, step, message, data)::run_timeline_event
                         ORDER BY n) FILTER (WHERE fold) AS folded
        FROM fresh GROUP BY run_id, next_status, retry_at, run_error, run_output, fold, step_lo, step_hi
        UNION ALL
        SELECT id, next_status, retry_at, error, output, fold, step_lo, step_hi, 0, NULL
        FROM run WHERE id NOT IN (SELECT run_id FROM fresh)
      ),
      updated AS (
        UPDATE runs r SET
          status = d.next_status,
          finished_at = CASE WHEN d.next_status = 'queued' THEN NULL ELSE now() END,
          run_at = CASE WHEN d.next_status = 'queued' THEN d.retry_at ELSE r.run_at END,
          lease_token = NULL, worker_id = NULL, worker_boot = NULL, heartbeat_at = NULL, lease_expires_at = NULL,
          error = d.error,
          output = d.output,
          last_seq = r.last_seq + d.n + 1,
          -- Folded: the new events, then the status event exactly as \`finished\` would write it.
          timeline = CASE WHEN d.fold THEN r.timeline || COALESCE(d.folded, '{}') || ROW(
            r.last_seq + d.n + 1, r.attempt, NULL, now(),
            CASE WHEN d.next_status IN ('error', 'queued') THEN 'warn' ELSE 'info' END,
            CASE WHEN d.next_status = 'queued' THEN 'requeued' ELSE 'status' END,
            NULL,
            CASE WHEN d.next_status = 'queued'
                 THEN 'requeued: attempt ' || r.attempt || ' failed, retry at ' || d.retry_at
                 ELSE 'finished: ' || d.next_status END,
            jsonb_build_object('status', d.next_status, 'attempt', r.attempt, 'error', d.error))::run_timeline_event
          ELSE r.timeline END,
          -- Folded: the run's step rows exactly as the \`steps\` insert below would write them (no rows of the
          -- attempt exist, so no conflict), from its slice of the step arrays: no join (a join with a CTE is
          -- planned as a nested loop on the generic plan's guesses, quadratic in the batch).
          steps = CASE WHEN d.fold AND d.step_hi >= d.step_lo THEN COALESCE(r.steps, '{}') || (
            SELECT array_agg(ROW(r.attempt, s.idx, s.name, s.kind, s.status, now(), CASE WHEN s.finished THEN now() END,
                                 s.exit_code)::run_step_row ORDER BY s.idx)
            FROM unnest((${steps.map((s) => s.idx)}::int[])[d.step_lo:d.step_hi],
                        (${steps.map((s) => s.name)}::text[])[d.step_lo:d.step_hi],
                        (${steps.map((s) => s.kind)}::text[])[d.step_lo:d.step_hi],
                        (${steps.map((s) => s.status)}::text[])[d.step_lo:d.step_hi],
                        (${steps.map((s) => s.finished)}::boolean[])[d.step_lo:d.step_hi],
                        (${steps.map((s) => s.exit_code)}::int[])[d.step_lo:d.step_hi])
              AS s(idx, name, kind, status, finished, exit_code))
          ELSE r.steps END
        FROM counted d
        WHERE r.id = d.id
        RETURNING ${full ? hotRunColumns('r') : sql`r.id, r.status, r.attempt, r.last_seq, r.run_at, r.error`},
                  d.next_status = 'queued' AS requeued, d.n AS accepted
      ),
      inserted AS (
        INSERT INTO run_events (run_id, seq, attempt, attempt_seq, ts, level, type, step, message, data)
        SELECT f.run_id, f.base + f.n, f.attempt, f.seq, COALESCE(f.ts, now()), f.level, f.type, f.step, f.message, f.data
        FROM fresh f WHERE NOT f.fold
        ON CONFLICT DO NOTHING
      ),
      finished AS (
        INSERT INTO run_events (run_id, seq, attempt, level, type, message, data)
        SELECT updated.id, last_seq, attempt,
               CASE WHEN status IN ('error') OR requeued THEN 'warn' ELSE 'info' END,
               CASE WHEN requeued THEN 'requeued' ELSE 'status' END,
               CASE WHEN requeued THEN 'requeued: attempt ' || attempt || ' failed, retry at ' || run_at
                    ELSE 'finished: ' || status END,
               jsonb_build_object('status', status, 'attempt', attempt, 'error', error)
        FROM updated WHERE updated.id NOT IN (SELECT id FROM run WHERE fold)
      ),
      steps AS (
        INSERT INTO run_steps (run_id, attempt, idx, name, kind, status, finished_at, exit_code)
        SELECT s.run_id, run.attempt, s.idx, s.name, s.kind, s.status, CASE WHEN s.finished THEN now() END, s.exit_code
        FROM unnest(${steps.map((s) => s.run_id)}::uuid[], ${steps.map((s) => s.idx)}::int[],
                    ${steps.map((s) => s.name)}::text[], ${steps.map((s) => s.kind)}::text[],
                    ${steps.map((s) => s.status)}::text[], ${steps.map((s) => s.finished)}::boolean[],
                    ${steps.map((s) => s.exit_code)}::int[])
          AS s(run_id, idx, name, kind, status, finished, exit_code)
        JOIN run ON run.id = s.run_id AND NOT run.fold
        ORDER BY s.run_id, s.idx
        ON CONFLICT (run_id, attempt, idx) DO UPDATE SET
          status = CASE WHEN excluded.finished_at IS NOT NULL THEN excluded.status ELSE run_steps.status END,
          finished_at = COALESCE(excluded.finished_at, run_steps.finished_at),
          exit_code = COALESCE(excluded.exit_code, run_steps.exit_code)
      )
      ${full ? sql`SELECT * FROM updated` : sql`SELECT id, status, last_seq::int AS last_seq, requeued, accepted FROM updated`}
    `.execute(db);
    for (const row of rows) applied.set(row.id, row);
  }
  return fenced(
    db,
    items.map((c) => ({ runId: c.runId, leaseToken: c.leaseToken })),
    applied,
  );
}

/** The same outcome as two statements in one transaction (a run named twice: its batches in order). */
async function inTransaction(
  db: Kysely<Database>,
  items: CompletionWithEvents[],
): Promise<Fenced<CompletionSummary>[]> {
  return db.transaction().execute(async (trx: Transaction<Database>) => {
    const withEvents = items.filter((c) => c.events?.length);
    const appended = await appendEventsMany(
      trx,
      withEvents.map((c) => ({ lease: { runId: c.runId, leaseToken: c.leaseToken }, events: c.events! })),
      { notify: false },
    );
    const accepted = new Map(withEvents.map((c, i) => [c, appended[i]!]));
    const completed = await completeRuns(trx, items, { notify: false });
    return completed.map((result, i): Fenced<CompletionSummary> => {
      if (!result.ok) return result;
      const append = accepted.get(items[i]!);
      const run = result.value;
      return {
        ok: true,
        value: {
          id: run.id,
          status: run.status,
          last_seq: Number(run.last_seq),
          requeued: run.requeued,
          accepted: append?.ok ? append.value.accepted : 0,
        },
      };
    });
  });
}

const LEVELS = new Set(['debug', 'info', 'warn', 'error']);
/** Bytes a folded event takes beyond its text and data (header, numbers, timestamp); the status event's share. */
const FOLDED_EVENT_OVERHEAD = 100;
const STATUS_EVENT_BYTES = 250;
/** Bytes a folded step row takes beyond its name and kind. */
const FOLDED_STEP_OVERHEAD = 80;

/**
 * What a completion's events and step rows would add to a folded run row, in bytes (an estimate, for the
 * fold's byte bound), or null when they may not fold at all: only events and step rows the `run_events` and
 * `run_steps` checks would accept (else the batch goes to rows and fails there, as before), and no worker seq
 * twice (rows keep one of two, by the unique index). Checked here rather than per event in the statement.
 */
function foldSize(c: CompletionWithEvents): number | null {
  const seqs = new Set<number>();
  let bytes = STATUS_EVENT_BYTES;
  for (const e of c.events ?? []) {
    if (!LEVELS.has(e.level) || typeof e.type !== 'string' || seqs.has(e.seq)) return null;
    seqs.add(e.seq);
    if (e.type === 'step.started' || e.type === 'step.finished') {
      const index = (e.data as { index?: unknown } | null | undefined)?.index;
      if (typeof index === 'number' && e.step) {
        // A row `run_steps` would refuse (its idx check) goes to rows and fails there, as before.
        if (index < 0) return null;
        const kind = (e.data as { kind?: unknown }).kind;
        bytes +=
          FOLDED_STEP_OVERHEAD +
          Buffer.byteLength(e.step) +
          (typeof kind === 'string' ? Buffer.byteLength(kind) : 7);
      }
    }
    bytes +=
      FOLDED_EVENT_OVERHEAD +
      Buffer.byteLength(e.type) +
      Buffer.byteLength(e.step ?? '') +
      Buffer.byteLength(e.message ?? '') +
      (e.data === undefined ? 0 : Buffer.byteLength(JSON.stringify(e.data) ?? ''));
  }
  return bytes;
}

const isUuid = (value: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
