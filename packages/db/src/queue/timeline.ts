import { sql, type RawBuilder } from 'kysely';

/**
 * A fast run's timeline folded into its run row (migration 2026-12-05T0400): `runs.timeline` holds the events
 * with seq 1..n (n its length) as `run_timeline_event` values (the columns of `run_events`), `run_events` the events after n. Only the claim and the
 * completion fold, and only while the run is wholly folded (n = last_seq) and stays within these bounds; any
 * other writer appends rows, after which the run never folds again. Readers read the `run_timeline` view.
 */
export const FOLD_MAX_EVENTS = 32;
/** Bytes the folded timeline may take (about), so the run row stays small (and out of TOAST). */
export const FOLD_MAX_BYTES = 4000;

/**
 * SQL: whether the run row `alias` (values before the write) may fold `events` more events taking about
 * `bytes` more bytes.
 */
export function foldable(alias: string, events: RawBuilder<unknown>, bytes: RawBuilder<unknown>) {
  const r = sql.raw(alias);
  return sql`(${r}.timeline IS NOT NULL AND cardinality(${r}.timeline) = ${r}.last_seq
    AND ${r}.last_seq + ${events} <= ${sql.lit(FOLD_MAX_EVENTS)}
    AND pg_column_size(${r}.timeline) + ${bytes} <= ${sql.lit(FOLD_MAX_BYTES)})`;
}

/** SQL: whether the run row `alias` (values after the write) holds its whole timeline folded. */
export function isFolded(alias: string) {
  const r = sql.raw(alias);
  return sql`(${r}.timeline IS NOT NULL AND cardinality(${r}.timeline) = ${r}.last_seq)`;
}
