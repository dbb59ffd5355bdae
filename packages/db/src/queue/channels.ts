import { sql, type RawBuilder } from 'kysely';

/**
 * NOTIFY channels. Payloads carry only ids and numbers: they are wake-up hints, and every reader goes
 * back to the tables for the data (so a lost notification costs latency, never an event).
 */
/** After an enqueue; payload: lane name. */
export const ENQUEUE_CHANNEL = 'ocr_enqueue';
/** After events are appended to a run; payload: `<run_id>:<last_seq>`. */
export const EVENTS_CHANNEL = 'ocr_events';
/** After a run changes status (claimed, finished, requeued, cancel requested); payload: run id. */
export const STATUS_CHANNEL = 'ocr_run_status';

/**
 * How a hot write sends its hints. By default the NOTIFY is part of the write's own commit. `notify: false`
 * leaves it out, and the caller publishes the hints after the commit: Postgres serialises every commit
 * that carries a NOTIFY under one server-wide lock held through the WAL flush, so under load the API
 * coalesces its hints into one NOTIFY per flush instead (services/api/src/realtime/listener.ts).
 */
export interface NotifyOption {
  notify?: boolean;
}

/** The `notified` CTE's body: `notify` (a SELECT of `pg_notify` calls), or nothing when the caller sends the hints. */
export function notifiedCte(options: NotifyOption, notify: RawBuilder<unknown>): RawBuilder<unknown> {
  return options.notify === false ? sql`SELECT 0 AS n` : notify;
}
