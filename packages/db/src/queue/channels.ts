import { sql, type RawBuilder } from 'kysely';
import pg from 'pg';

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

/**
 * A direct, session-level connection LISTENing on every channel (a transaction-mode pooler would lose the
 * LISTEN). Not yet connected: the caller attaches its handlers, then calls `listen()`.
 */
export function createListenClient(
  url: string,
  applicationName: string,
): { client: pg.Client; listen(): Promise<void> } {
  const client = new pg.Client({ connectionString: url, application_name: applicationName, keepAlive: true });
  return {
    client,
    async listen() {
      await client.connect();
      await client.query(`LISTEN ${ENQUEUE_CHANNEL}; LISTEN ${EVENTS_CHANNEL}; LISTEN ${STATUS_CHANNEL};`);
    },
  };
}

/** Publish many hints in one statement (one NOTIFY commit), on a client or a pool. */
export async function publishHints(
  sender: Pick<pg.Pool, 'query'> | Pick<pg.Client, 'query'>,
  channels: string[],
  payloads: string[],
): Promise<void> {
  await sender.query('SELECT count(pg_notify(c, p)) FROM unnest($1::text[], $2::text[]) AS h(c, p)', [
    channels,
    payloads,
  ]);
}
