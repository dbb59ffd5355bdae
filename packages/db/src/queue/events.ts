import { sql, type Kysely } from 'kysely';
import type { Database, RunEventRow } from '../types.js';
import { EVENTS_CHANNEL } from './channels.js';
import type { Fenced, Lease } from './lease.js';
import { sanitizeJson, sanitizeText } from './sanitize.js';

/** An event as a worker sends it: `seq` is the worker's own number within its attempt. */
export interface EventInput {
  seq: number;
  ts?: string | Date | null;
  level: 'debug' | 'info' | 'warn' | 'error';
  type: string;
  step?: string | null;
  message?: string;
  data?: unknown;
}

export interface AppendResult {
  /** Events newly stored (a replayed batch stores 0). */
  accepted: number;
  /** Highest worker seq stored for this attempt. */
  last_seq: number;
}

/**
 * Append a batch of worker events, fenced by lease token, in one statement.
 *
 * Ordering argument: the statement updates the run row (advancing `last_seq` by the number of new events),
 * which row-locks it until commit; appends to one run are therefore serialised and commit in `seq`
 * order, so a reader that has seen seq N committed has seen every seq below N: "read after the last seq
 * I delivered" is gap-free. Idempotency: events whose (attempt, worker seq) exist are filtered out before
 * numbering, and the unique index backs that up under a concurrent replay (at worst a harmless gap).
 * Step events also maintain `run_steps`.
 */
export async function appendEvents(db: Kysely<Database>, lease: Lease, events: EventInput[]): Promise<Fenced<AppendResult>> {
  const clean = events.map((e) => ({
    seq: e.seq,
    ts: e.ts instanceof Date ? e.ts.toISOString() : (e.ts ?? null),
    level: e.level,
    type: sanitizeText(e.type),
    step: e.step == null ? null : sanitizeText(e.step),
    message: sanitizeText(e.message ?? ''),
    data: e.data === undefined ? null : sanitizeJson(e.data),
  }));
  const { rows } = await sql<{ accepted: number; last_seq: number | null; attempt: number }>`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(clean)}::jsonb)
        AS x(seq int, ts timestamptz, level text, type text, step text, message text, data jsonb)
    ),
    run AS (
      SELECT r.id, r.attempt, r.last_seq FROM runs r
      WHERE r.id = ${lease.runId}::uuid AND r.lease_token = ${lease.leaseToken}::uuid AND r.status = 'running'
      FOR UPDATE
    ),
    fresh AS (
      SELECT i.*, row_number() OVER (ORDER BY i.seq) AS n FROM input i, run
      WHERE NOT EXISTS (
        SELECT 1 FROM run_events e WHERE e.run_id = run.id AND e.attempt = run.attempt AND e.attempt_seq = i.seq)
    ),
    bumped AS (
      UPDATE runs r SET last_seq = r.last_seq + (SELECT count(*) FROM fresh)
      FROM run WHERE r.id = run.id AND EXISTS (SELECT 1 FROM fresh)
      RETURNING r.id
    ),
    inserted AS (
      INSERT INTO run_events (run_id, seq, attempt, attempt_seq, ts, level, type, step, message, data)
      SELECT run.id, run.last_seq + f.n, run.attempt, f.seq, COALESCE(f.ts, now()), f.level, f.type, f.step,
             f.message, f.data
      FROM fresh f, run
      ON CONFLICT DO NOTHING
      RETURNING seq
    ),
    notified AS (
      SELECT count(pg_notify(${EVENTS_CHANNEL}, run.id || ':' || (SELECT max(seq) FROM inserted))) AS n
      FROM run WHERE EXISTS (SELECT 1 FROM inserted)
    )
    SELECT (SELECT count(*) FROM inserted)::int AS accepted,
           (SELECT max(e.attempt_seq) FROM run_events e WHERE e.run_id = run.id AND e.attempt = run.attempt) AS last_seq,
           run.attempt
    FROM run CROSS JOIN notified
  `.execute(db);
  const row = rows[0];
  if (!row) {
    const exists = await db.selectFrom('runs').select('id').where('id', '=', lease.runId).executeTakeFirst();
    return { ok: false, reason: exists ? 'lease_lost' : 'not_found' };
  }
  // last_seq from the statement snapshot misses this batch; combine it with what was just sent.
  const sent = clean.length > 0 ? Math.max(...clean.map((e) => e.seq)) : 0;
  const lastSeq = Math.max(row.last_seq ?? 0, sent);
  await trackSteps(db, lease.runId, row.attempt, clean);
  return { ok: true, value: { accepted: row.accepted, last_seq: lastSeq } };
}

/** Keep `run_steps` in step with `step.started` / `step.finished` events (data: index, kind, status, exit_code). */
async function trackSteps(
  db: Kysely<Database>,
  runId: string,
  attempt: number,
  events: { type: string; step: string | null; data: unknown; ts: string | null }[],
): Promise<void> {
  // One row per step index, folded in TS (a batch often carries both the start and the end of a step),
  // then one upsert statement for the whole batch.
  const steps = new Map<number, { idx: number; name: string; kind: string; status: string; finished: boolean; exit_code: number | null }>();
  for (const event of events) {
    if (event.type !== 'step.started' && event.type !== 'step.finished') continue;
    const data = (event.data ?? {}) as { index?: number; kind?: string; status?: string; exit_code?: number };
    if (typeof data.index !== 'number' || !event.step) continue;
    const finished = event.type === 'step.finished';
    const status = finished ? (['success', 'error', 'cancelled', 'timeout'].includes(data.status ?? '') ? data.status! : 'error') : 'running';
    steps.set(data.index, { idx: data.index, name: event.step, kind: data.kind ?? 'unknown', status, finished, exit_code: finished ? (data.exit_code ?? null) : null });
  }
  if (steps.size === 0) return;
  await sql`
    INSERT INTO run_steps (run_id, attempt, idx, name, kind, status, finished_at, exit_code)
    SELECT ${runId}::uuid, ${attempt}, s.idx, s.name, s.kind, s.status, CASE WHEN s.finished THEN now() END, s.exit_code
    FROM jsonb_to_recordset(${JSON.stringify([...steps.values()])}::jsonb)
      AS s(idx int, name text, kind text, status text, finished boolean, exit_code int)
    ON CONFLICT (run_id, attempt, idx) DO UPDATE SET
      status = CASE WHEN excluded.finished_at IS NOT NULL THEN excluded.status ELSE run_steps.status END,
      finished_at = COALESCE(excluded.finished_at, run_steps.finished_at),
      exit_code = COALESCE(excluded.exit_code, run_steps.exit_code)
  `.execute(db);
}

/** A system event (API, sweeper) appended outside any lease; returns the stored event. */
export async function appendSystemEvent(
  db: Kysely<Database>,
  runId: string,
  event: Omit<EventInput, 'seq'>,
): Promise<RunEventRow | undefined> {
  const { rows } = await sql<RunEventRow>`
    WITH bumped AS (
      UPDATE runs SET last_seq = last_seq + 1 WHERE id = ${runId}::uuid RETURNING id, last_seq, attempt
    ),
    inserted AS (
      INSERT INTO run_events (run_id, seq, attempt, level, type, step, message, data)
      SELECT id, last_seq, attempt, ${event.level}, ${sanitizeText(event.type)}, ${event.step ?? null},
             ${sanitizeText(event.message ?? '')}, ${JSON.stringify(sanitizeJson(event.data ?? null))}::jsonb
      FROM bumped
      RETURNING *
    ),
    notified AS (SELECT count(pg_notify(${EVENTS_CHANNEL}, run_id || ':' || seq)) AS n FROM inserted)
    SELECT inserted.* FROM inserted CROSS JOIN notified
  `.execute(db);
  return rows[0];
}

export interface ReadEventsInput {
  runId: string;
  afterSeq?: number;
  limit?: number;
  levels?: string[];
  q?: string;
}

/** Events of a run after a seq, in order; optional level filter and case-insensitive text search. */
export async function readEvents(db: Kysely<Database>, input: ReadEventsInput): Promise<RunEventRow[]> {
  let query = db
    .selectFrom('run_events')
    .selectAll()
    .where('run_id', '=', input.runId)
    .where('seq', '>', input.afterSeq ?? 0)
    .orderBy('seq')
    .limit(input.limit ?? 1000);
  if (input.levels && input.levels.length > 0) query = query.where('level', 'in', input.levels as RunEventRow['level'][]);
  if (input.q) {
    const pattern = `%${input.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where('message', 'ilike', pattern);
  }
  return query.execute();
}
