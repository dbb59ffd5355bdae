import { sql, type Kysely } from 'kysely';
import type { Database, RunEventRow } from '../types.js';
import { EVENTS_CHANNEL, notifiedCte, type NotifyOption } from './channels.js';
import { diagnoseFence, type Fenced, type Lease } from './fence.js';
import { sanitizeJson, sanitizeText, storableJsonText } from './sanitize.js';
import { PREPARED } from '../connect.js';
import { ArrayLiteral } from './array-literal.js';

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
  /** The run's own seq of the newest event stored by this call (for hints); null when it stored none. */
  run_seq: number | null;
  /** The rows stored by this call, in seq order, exactly as `readEvents` returns them (only with `returnEvents`). */
  events?: RunEventRow[];
}

export interface AppendOptions extends NotifyOption {
  /**
   * Return the stored rows too: a process with live followers of the run hands them to its feed instead of
   * reading them back (one statement per append, not two). Off for plain ingestion: lean answers.
   */
  returnEvents?: boolean;
}

/**
 * Append a batch of worker events, fenced by lease token, in one statement.
 *
 * Ordering argument: the statement updates the run row (advancing `last_seq` by the number of new events),
 * which row-locks it until commit; appends to one run are therefore serialised and commit in `seq`
 * order, so a reader that has seen seq N committed has seen every seq below N: "read after the last seq
 * I delivered" is gap-free. Idempotency: events whose (attempt, worker seq) exist are filtered out before
 * numbering; a run another append committed to while this one waited for its lock is sent again in a new
 * statement, which sees those events, so a concurrent replay can neither duplicate an event nor leave a gap.
 * Step events also maintain `run_steps`. An append is proof of life: it moves `heartbeat_at` as a heartbeat does.
 */
export async function appendEvents(
  db: Kysely<Database>,
  lease: Lease,
  events: EventInput[],
  options: AppendOptions = {},
): Promise<Fenced<AppendResult>> {
  const [result] = await appendEventsMany(db, [{ lease, events }], options);
  return result!;
}

/** One run's share of a multi-run append. */
export interface AppendItem {
  lease: Lease;
  events: EventInput[];
}

/**
 * `appendEvents` for many runs in ONE statement, the `run_steps` upsert included: the final events of a batch
 * of completions cost one statement, not two per run. Same fencing, ordering and idempotency per run as
 * `appendEvents`; run rows are locked in id order so concurrent batches never deadlock. A run may appear
 * only once per call (the items of one call are not ordered against each other).
 *
 * Two statements serve it. The common case — each batch in strictly increasing worker seq, none of it stored
 * yet, outside a transaction — goes through `appendFresh`, which numbers and inserts the events as they are
 * (no per-event check, no sort, no ON CONFLICT). Everything else (a retried batch, a batch out of order, a
 * run another append committed to while this one waited for its lock, a fence miss) goes through
 * `appendChecked`, which filters every event against what is stored.
 */
export async function appendEventsMany(
  db: Kysely<Database>,
  items: AppendItem[],
  options: AppendOptions = {},
): Promise<Fenced<AppendResult>[]> {
  if (items.length === 0) return [];
  if (new Set(items.map((item) => item.lease.runId)).size !== items.length) {
    // The same run twice: keep its batches in order, one statement each.
    const results: Fenced<AppendResult>[] = [];
    for (const item of items) results.push(...(await appendEventsMany(db, [item], options)));
    return results;
  }
  // In a transaction a failed statement would abort it, so the fast statement's safety net (below) is out.
  if (db.isTransaction || !items.every((item) => ascending(item.events)))
    return appendChecked(db, items, options);
  let fresh: Map<string, Fenced<AppendResult>>;
  try {
    fresh = await appendFresh(db, items, options);
  } catch (err) {
    // A unique violation means a writer stored an event this statement did not expect (none is known to):
    // the checked statement skips what exists, as every append did before the fast statement.
    if ((err as { code?: string }).code !== '23505') throw err;
    return appendChecked(db, items, options);
  }
  const rest = items.filter((item) => !fresh.has(item.lease.runId));
  const checked = rest.length === 0 ? [] : await appendChecked(db, rest, options);
  const byRun = new Map(rest.map((item, i) => [item.lease.runId, checked[i]!]));
  return items.map((item) => fresh.get(item.lease.runId) ?? byRun.get(item.lease.runId)!);
}

/** Worker seqs strictly increasing (so no duplicates within the batch) and at least one event. */
function ascending(events: EventInput[]): boolean {
  if (events.length === 0) return false;
  for (let i = 1; i < events.length; i++) if (!(events[i]!.seq > events[i - 1]!.seq)) return false;
  return true;
}

/**
 * The general append: every event checked against what the attempt already stored (`existing`), the rest
 * numbered in seq order.
 *
 * `existing` reads the statement's snapshot, so it misses the events of an append that committed while this
 * one waited for the run's lock; numbering the batch then would count events that `ON CONFLICT` skips and
 * leave a gap in the run's seqs. Such a run (its locked `last_seq` is not the one the snapshot sees) is left
 * alone here and sent again in a new statement, whose snapshot has those events; in a transaction the
 * lock it already holds means the second statement cannot race. `ON CONFLICT DO NOTHING` stays as the net.
 *
 * The replay check reads only the batch's own seq range of the attempt (`existing`) and filters with a
 * hashed NOT IN: a per-row NOT EXISTS was planned, on stale statistics, as a scan of every event of the
 * attempt per input row (seconds per 1,000-event batch once a run had a few thousand events).
 */
async function appendChecked(
  db: Kysely<Database>,
  items: AppendItem[],
  options: AppendOptions,
): Promise<Fenced<AppendResult>[]> {
  const notified = notifiedCte(
    options,
    sql`SELECT count(pg_notify(${EVENTS_CHANNEL}, run_id || ':' || top)) AS n FROM counted`,
  );
  const ev = eventArrays(
    items.flatMap((item) => item.events.map((event) => ({ runId: item.lease.runId, event }))),
  );
  const clean = ev.clean;
  const steps = stepRows(clean);
  const valid = items.filter((item) => isUuid(item.lease.runId) && isUuid(item.lease.leaseToken));
  const returnEvents = options.returnEvents === true;
  const { rows } =
    valid.length === 0
      ? { rows: [] }
      : await sql<AppendedRow>`${sql.raw(PREPARED)}
    WITH input AS (
      SELECT * FROM unnest(${ev.runIds}::uuid[], ${ev.seqs}::int[], ${ev.ts}::timestamptz[], ${ev.levels}::text[],
                           ${ev.types}::text[], ${ev.steps}::text[], ${ev.messages}::text[], ${ev.data}::jsonb[])
        AS x(run_id, seq, ts, level, type, step, message, data)
    ),
    run AS (
      SELECT r.id, r.attempt, r.last_seq FROM runs r
      JOIN unnest(${valid.map((i) => i.lease.runId)}::uuid[], ${valid.map((i) => i.lease.leaseToken)}::uuid[]) AS l(id, token)
        ON r.id = l.id AND r.lease_token = l.token -- the fence (PLAN-STABLE, fence.ts)
      ORDER BY r.id
      FOR UPDATE OF r
    ),
    bounds AS (
      SELECT run_id, min(seq) AS lo, max(seq) AS hi FROM input GROUP BY run_id
    ),
    settled AS (
      SELECT run.* FROM run JOIN runs seen ON seen.id = run.id AND seen.last_seq = run.last_seq
    ),
    existing AS MATERIALIZED (
      SELECT e.run_id, e.attempt_seq FROM settled JOIN bounds b ON b.run_id = settled.id
      JOIN run_events e ON e.run_id = settled.id AND e.attempt = settled.attempt AND e.attempt_seq BETWEEN b.lo AND b.hi
    ),
    fresh AS (
      SELECT i.*, settled.attempt, settled.last_seq AS base,
             row_number() OVER (PARTITION BY i.run_id ORDER BY i.seq) AS n
      FROM input i JOIN settled ON settled.id = i.run_id
      WHERE (i.run_id, i.seq) NOT IN (SELECT run_id, attempt_seq FROM existing)
    ),
    bumped AS (
      UPDATE runs r SET last_seq = r.last_seq + f.n, heartbeat_at = date_trunc('milliseconds', now())
      FROM (SELECT run_id, count(*) AS n FROM fresh GROUP BY run_id) f
      WHERE r.id = f.run_id
      RETURNING r.id
    ),
    inserted AS (
      INSERT INTO run_events (run_id, seq, attempt, attempt_seq, ts, level, type, step, message, data)
      SELECT f.run_id, f.base + f.n, f.attempt, f.seq, COALESCE(f.ts, now()), f.level, f.type, f.step, f.message, f.data
      FROM fresh f
      ON CONFLICT DO NOTHING
      RETURNING *
    ),
    counted AS (
      SELECT run_id, count(*)::int AS accepted, max(seq) AS top FROM inserted GROUP BY run_id
    ),
    steps AS (
      INSERT INTO run_steps (run_id, attempt, idx, name, kind, status, finished_at, exit_code)
      SELECT s.run_id, run.attempt, s.idx, s.name, s.kind, s.status, CASE WHEN s.finished THEN now() END, s.exit_code
      FROM unnest(${steps.map((s) => s.run_id)}::uuid[], ${steps.map((s) => s.idx)}::int[],
                  ${steps.map((s) => s.name)}::text[], ${steps.map((s) => s.kind)}::text[],
                  ${steps.map((s) => s.status)}::text[], ${steps.map((s) => s.finished)}::boolean[],
                  ${steps.map((s) => s.exit_code)}::int[])
        AS s(run_id, idx, name, kind, status, finished, exit_code)
      JOIN settled run ON run.id = s.run_id
      ORDER BY s.run_id, s.idx
      ON CONFLICT (run_id, attempt, idx) DO UPDATE SET
        status = CASE WHEN excluded.finished_at IS NOT NULL THEN excluded.status ELSE run_steps.status END,
        finished_at = COALESCE(excluded.finished_at, run_steps.finished_at),
        exit_code = COALESCE(excluded.exit_code, run_steps.exit_code)
    ),
    notified AS (${notified}),
    result AS (
      SELECT run.id, run.attempt, settled.id IS NULL AS raced, COALESCE(c.accepted, 0)::int AS accepted,
             c.top AS run_seq,
             (SELECT max(e.attempt_seq) FROM run_events e WHERE e.run_id = run.id AND e.attempt = run.attempt) AS last_seq
      FROM run LEFT JOIN settled ON settled.id = run.id LEFT JOIN counted c ON c.run_id = run.id CROSS JOIN notified
    )
    -- One row per run, or with returnEvents one per stored event (the run's columns repeated).
    SELECT result.*, i.seq AS ev_seq, i.attempt_seq AS ev_attempt_seq, i.ts AS ev_ts, i.level AS ev_level,
           i.type AS ev_type, i.step AS ev_step, i.message AS ev_message, i.data AS ev_data
    FROM result LEFT JOIN inserted i ON ${returnEvents} AND i.run_id = result.id
  `.execute(db);
  const { byRun, stored, raced } = collectAppended(rows);
  const again = items.filter((item) => raced.has(item.lease.runId));
  const retried = again.length === 0 ? [] : await appendChecked(db, again, options);
  const retriedByRun = new Map(again.map((item, i) => [item.lease.runId, retried[i]!]));
  const missing = items
    .filter((item) => !byRun.has(item.lease.runId) && !raced.has(item.lease.runId))
    .map((item) => item.lease);
  const misses = missing.length === 0 ? new Map() : await diagnoseFence(db, missing);
  const results = items.map((item): Fenced<AppendResult> => {
    const retry = retriedByRun.get(item.lease.runId);
    if (retry) return retry;
    const row = byRun.get(item.lease.runId);
    if (!row) return { ok: false, ...misses.get(item.lease.runId)! };
    const sent = clean.reduce((top, e) => (e.run_id === item.lease.runId ? Math.max(top, e.seq) : top), 0);
    return { ok: true, value: appendAnswer(row, sent, stored.get(row.id), returnEvents) };
  });
  return results;
}

/**
 * The fast append, for batches in strictly increasing worker seq (`ascending`): the runs whose lease holds are
 * locked as in `appendChecked`; a run is then *clear* when none of its batch's seq range is stored for the
 * attempt and no other append committed to it after this statement's snapshot was taken (its locked
 * `last_seq` is the one the snapshot sees: otherwise the events that append stored are invisible to the
 * range check). A clear run's events are inserted as sent, numbered `last_seq + 1…` in batch order, and
 * `last_seq` moves to the highest. Runs that are not clear (and fence misses) are left out of the answer:
 * the caller hands them to `appendChecked`. Nothing here can conflict with a stored event, hence no ON
 * CONFLICT, whose speculative insertion cost a third of the statement's time.
 */
async function appendFresh(
  db: Kysely<Database>,
  items: AppendItem[],
  options: AppendOptions,
): Promise<Map<string, Fenced<AppendResult>>> {
  const done = new Map<string, Fenced<AppendResult>>();
  const valid = items.filter((item) => isUuid(item.lease.runId) && isUuid(item.lease.leaseToken));
  if (valid.length === 0) return done;
  const ev = freshArrays(valid);
  const steps = stepRows(ev.stepEvents);
  const returnEvents = options.returnEvents === true;
  const notified = notifiedCte(
    options,
    sql`SELECT count(pg_notify(${EVENTS_CHANNEL}, run_id || ':' || top)) AS n FROM counted`,
  );
  // Two texts (each prepared once): the stored rows come back only when a live feed wants them.
  const returning = returnEvents
    ? sql.raw('run_id, seq, attempt_seq, ts, level, type, step, message, data')
    : sql.raw('run_id, seq');
  const answer = returnEvents
    ? sql.raw(`SELECT result.*, i.seq AS ev_seq, i.attempt_seq AS ev_attempt_seq, i.ts AS ev_ts, i.level AS ev_level,
           i.type AS ev_type, i.step AS ev_step, i.message AS ev_message, i.data AS ev_data
    FROM result LEFT JOIN inserted i ON i.run_id = result.id`)
    : sql.raw('SELECT result.* FROM result');
  const { rows } = await sql<AppendedRow>`${sql.raw(PREPARED)}
    WITH run AS (
      SELECT r.id, r.attempt, r.last_seq, l.k, l.lo, l.hi, l.off FROM runs r
      JOIN unnest(${valid.map((i) => i.lease.runId)}::uuid[], ${valid.map((i) => i.lease.leaseToken)}::uuid[],
                  ${ev.ks}::int[], ${ev.los}::int[], ${ev.his}::int[], ${ev.offs}::int[]) AS l(id, token, k, lo, hi, off)
        ON r.id = l.id AND r.lease_token = l.token -- the fence (PLAN-STABLE, fence.ts)
      ORDER BY r.id
      FOR UPDATE OF r
    ),
    clear AS (
      SELECT run.* FROM run JOIN runs seen ON seen.id = run.id AND seen.last_seq = run.last_seq
      WHERE NOT EXISTS (SELECT FROM run_events e WHERE e.run_id = run.id AND e.attempt = run.attempt
                                                   AND e.attempt_seq BETWEEN run.lo AND run.hi)
    ),
    inserted AS (
      INSERT INTO run_events (run_id, seq, attempt, attempt_seq, ts, level, type, step, message, data)
      SELECT c.id, c.last_seq + (i.ord - c.off), c.attempt, i.seq, COALESCE(i.ts, now()), i.level, i.type, i.step,
             i.message, i.data
      FROM unnest(${ev.k}::int[], ${ev.seqs}::int[], ${ev.ts}::timestamptz[], ${ev.levels}::text[],
                  ${ev.types}::text[], ${ev.steps}::text[], ${ev.messages}::text[], ${ev.data}::jsonb[])
        WITH ORDINALITY AS i(k, seq, ts, level, type, step, message, data, ord)
      JOIN clear c ON c.k = i.k
      RETURNING ${returning}
    ),
    counted AS (
      SELECT run_id, count(*)::int AS accepted, max(seq) AS top FROM inserted GROUP BY run_id
    ),
    bumped AS (
      UPDATE runs r SET last_seq = c.top, heartbeat_at = date_trunc('milliseconds', now())
      FROM counted c
      WHERE r.id = c.run_id
    ),
    steps AS (
      INSERT INTO run_steps (run_id, attempt, idx, name, kind, status, finished_at, exit_code)
      SELECT s.run_id, clear.attempt, s.idx, s.name, s.kind, s.status, CASE WHEN s.finished THEN now() END, s.exit_code
      FROM unnest(${steps.map((s) => s.run_id)}::uuid[], ${steps.map((s) => s.idx)}::int[],
                  ${steps.map((s) => s.name)}::text[], ${steps.map((s) => s.kind)}::text[],
                  ${steps.map((s) => s.status)}::text[], ${steps.map((s) => s.finished)}::boolean[],
                  ${steps.map((s) => s.exit_code)}::int[])
        AS s(run_id, idx, name, kind, status, finished, exit_code)
      JOIN clear ON clear.id = s.run_id
      ORDER BY s.run_id, s.idx
      ON CONFLICT (run_id, attempt, idx) DO UPDATE SET
        status = CASE WHEN excluded.finished_at IS NOT NULL THEN excluded.status ELSE run_steps.status END,
        finished_at = COALESCE(excluded.finished_at, run_steps.finished_at),
        exit_code = COALESCE(excluded.exit_code, run_steps.exit_code)
    ),
    notified AS (${notified}),
    result AS (
      SELECT clear.id, clear.attempt, COALESCE(c.accepted, 0)::int AS accepted, c.top AS run_seq,
             (SELECT max(e.attempt_seq) FROM run_events e WHERE e.run_id = clear.id AND e.attempt = clear.attempt) AS last_seq
      FROM clear LEFT JOIN counted c ON c.run_id = clear.id CROSS JOIN notified
    )
    ${answer}
  `.execute(db);
  const { byRun, stored } = collectAppended(rows);
  for (const item of valid) {
    const row = byRun.get(item.lease.runId);
    if (!row) continue;
    const sent = item.events[item.events.length - 1]!.seq;
    done.set(item.lease.runId, {
      ok: true,
      value: appendAnswer(row, sent, stored.get(row.id), returnEvents),
    });
  }
  return done;
}

/**
 * `appendFresh`'s parameters in one pass over the batches: per run its item number `k`, seq range and the
 * position of its first event (`off`: the events' ordinal minus `off` numbers them within the run); per
 * event one array literal per column (`ArrayLiteral`), text cleaned on the way, `data` as JSON text (cleaned
 * only when needed: `storableJsonText`). Step events also come out whole, for `run_steps`.
 */
function freshArrays(items: AppendItem[]) {
  const ks: number[] = [];
  const los: number[] = [];
  const his: number[] = [];
  const offs: number[] = [];
  const k = new ArrayLiteral();
  const seqs = new ArrayLiteral();
  const ts = new ArrayLiteral();
  const levels = new ArrayLiteral();
  const types = new ArrayLiteral();
  const steps = new ArrayLiteral();
  const messages = new ArrayLiteral();
  const data = new ArrayLiteral();
  const stepEvents: { run_id: string; type: string; step: string | null; data: unknown }[] = [];
  let count = 0;
  items.forEach((item, index) => {
    const events = item.events;
    ks.push(index + 1);
    los.push(events[0]!.seq);
    his.push(events[events.length - 1]!.seq);
    offs.push(count);
    count += events.length;
    for (const e of events) {
      k.number(index + 1);
      seqs.number(e.seq);
      ts.text(e.ts instanceof Date ? e.ts.toISOString() : (e.ts ?? null));
      levels.text(e.level);
      const type = sanitizeText(e.type);
      types.text(type);
      const step = e.step == null ? null : sanitizeText(e.step);
      steps.text(step);
      messages.text(sanitizeText(e.message ?? ''));
      data.text(e.data == null ? null : storableJsonText(e.data));
      if (type === 'step.started' || type === 'step.finished')
        stepEvents.push({
          run_id: item.lease.runId,
          type,
          step,
          data: e.data === undefined ? null : sanitizeJson(e.data),
        });
    }
  });
  const literal = (a: ArrayLiteral) => a.toString();
  return {
    ks,
    los,
    his,
    offs,
    k: literal(k),
    seqs: literal(seqs),
    ts: literal(ts),
    levels: literal(levels),
    types: literal(types),
    steps: literal(steps),
    messages: literal(messages),
    data: literal(data),
    stepEvents,
  };
}

/** A stored event from a row of an append statement (returnEvents). */
/** The append statement's rows by run (raced runs apart), and each run's stored events when they came back. */
function collectAppended(rows: AppendedRow[]) {
  const byRun = new Map<string, AppendedRow>();
  const stored = new Map<string, RunEventRow[]>();
  const raced = new Set<string>();
  for (const row of rows) {
    if (row.raced) {
      raced.add(row.id);
      continue;
    }
    byRun.set(row.id, row);
    if (row.ev_seq == null) continue; // no event on this row, or the statement did not return events
    let list = stored.get(row.id);
    if (!list) stored.set(row.id, (list = []));
    list.push(storedEvent(row));
  }
  return { byRun, stored, raced };
}

/**
 * One run's answer. `sent` is the newest worker seq of its batch: `last_seq` read in the statement's snapshot
 * misses the batch itself.
 */
function appendAnswer(
  row: AppendedRow,
  sent: number,
  events: RunEventRow[] | undefined,
  returnEvents: boolean,
): AppendResult {
  return {
    accepted: row.accepted,
    last_seq: Math.max(row.last_seq ?? 0, sent),
    run_seq: row.run_seq === null ? null : Number(row.run_seq),
    ...(returnEvents ? { events: (events ?? []).sort((a, b) => a.seq - b.seq) } : {}),
  };
}

function storedEvent(row: AppendedRow): RunEventRow {
  return {
    run_id: row.id,
    seq: row.ev_seq!,
    attempt: row.attempt,
    attempt_seq: row.ev_attempt_seq,
    ts: row.ev_ts!,
    level: row.ev_level!,
    type: row.ev_type!,
    step: row.ev_step,
    message: row.ev_message!,
    data: row.ev_data,
  };
}

/** A row of the append statement: the run's outcome, and one stored event when asked for (else nulls). */
interface AppendedRow {
  id: string;
  /** `appendChecked` only: another append committed to the run after the snapshot; nothing was stored. */
  raced?: boolean;
  accepted: number;
  last_seq: number | null;
  attempt: number;
  run_seq: number | null;
  ev_seq: number | null;
  ev_attempt_seq: number | null;
  ev_ts: Date | null;
  ev_level: RunEventRow['level'] | null;
  ev_type: string | null;
  ev_step: string | null;
  ev_message: string | null;
  ev_data: RunEventRow['data'];
}

/**
 * Events as one array per column, for `unnest(…)` in the append statements: Postgres parses typed arrays
 * far cheaper than a `jsonb_to_recordset` of the whole batch (every field of every event through jsonb).
 * Text is cleaned on the way (what a program printed must never make an append fail).
 */
export function eventArrays(items: { runId: string; event: EventInput }[]) {
  const clean = items.map(({ runId, event: e }) => ({
    run_id: runId,
    seq: e.seq,
    ts: e.ts instanceof Date ? e.ts.toISOString() : (e.ts ?? null),
    level: e.level,
    type: sanitizeText(e.type),
    step: e.step == null ? null : sanitizeText(e.step),
    message: sanitizeText(e.message ?? ''),
    data: e.data === undefined ? null : sanitizeJson(e.data),
  }));
  return {
    clean,
    runIds: clean.map((e) => e.run_id),
    seqs: clean.map((e) => e.seq),
    ts: clean.map((e) => e.ts),
    levels: clean.map((e) => e.level),
    types: clean.map((e) => e.type),
    steps: clean.map((e) => e.step),
    messages: clean.map((e) => e.message),
    data: clean.map((e) => (e.data === null ? null : JSON.stringify(e.data))),
  };
}

const isUuid = (value: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/**
 * `run_steps` rows from `step.started` / `step.finished` events (data: index, kind, status, exit_code): one
 * row per run and step index, folded here because a batch often carries both the start and the end of a
 * step. The append statement upserts them for the runs whose lease held, under the attempt it locked.
 */
export function stepRows(events: { run_id: string; type: string; step: string | null; data: unknown }[]) {
  const rows = new Map<
    string,
    {
      run_id: string;
      idx: number;
      name: string;
      kind: string;
      status: string;
      finished: boolean;
      exit_code: number | null;
    }
  >();
  for (const event of events) {
    if (event.type !== 'step.started' && event.type !== 'step.finished') continue;
    const data = (event.data ?? {}) as { index?: number; kind?: string; status?: string; exit_code?: number };
    if (typeof data.index !== 'number' || !event.step) continue;
    const finished = event.type === 'step.finished';
    const status = finished
      ? ['success', 'error', 'cancelled', 'timeout'].includes(data.status ?? '')
        ? data.status!
        : 'error'
      : 'running';
    rows.set(`${event.run_id}/${data.index}`, {
      run_id: event.run_id,
      idx: data.index,
      name: event.step,
      kind: data.kind ?? 'unknown',
      status,
      finished,
      exit_code: finished ? (data.exit_code ?? null) : null,
    });
  }
  return [...rows.values()];
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

/**
 * Events of a run after a seq, in order; optional level filter and case-insensitive text search. Reads the
 * `run_timeline` view: the rows and the events folded into the run row (timeline.ts), the same either way.
 */
export async function readEvents(db: Kysely<Database>, input: ReadEventsInput): Promise<RunEventRow[]> {
  let query = db
    .selectFrom('run_timeline')
    .selectAll()
    .where('run_id', '=', input.runId)
    .where('seq', '>', input.afterSeq ?? 0)
    .orderBy('seq')
    .limit(input.limit ?? 1000);
  if (input.levels && input.levels.length > 0)
    query = query.where('level', 'in', input.levels as RunEventRow['level'][]);
  if (input.q) {
    const pattern = `%${input.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where('message', 'ilike', pattern);
  }
  return query.execute();
}
