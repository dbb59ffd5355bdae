import { sql, type RawBuilder } from 'kysely';
import type { RunRow } from '../types.js';

/**
 * The run columns the claim and the completion answer with: what the API puts on the wire (`runToWire`,
 * `wait_reason`), the lease it hands a worker and the seq it publishes. Named one by one, never `r.*`: these
 * statements are prepared (`PREPARED`), and a prepared statement whose result gains a column (a migration
 * adding one to `runs` while replicas run) fails with "cached plan must not change result type".
 */
export const HOT_RUN_COLUMNS = [
  'id',
  'template',
  'template_version',
  'lane',
  'priority',
  'status',
  'params',
  'labels',
  'attempt',
  'max_attempts',
  'run_at',
  'created_at',
  'started_at',
  'finished_at',
  'heartbeat_at',
  'lease_expires_at',
  'lease_token',
  'worker_id',
  'cancel_requested',
  'session_id',
  'error',
  'output',
  'retry_of',
  'last_seq',
] as const satisfies readonly (keyof RunRow)[];

/** A run as the claim and the completion return it. */
export type HotRun = Pick<RunRow, (typeof HOT_RUN_COLUMNS)[number]>;

/** `alias.id, alias.template, …` for a RETURNING or SELECT list. */
export function hotRunColumns(alias: string): RawBuilder<unknown> {
  return sql.raw(HOT_RUN_COLUMNS.map((column) => `${alias}.${column}`).join(', '));
}

/**
 * Every column of `RunRow`, for a prepared statement that answers with a whole run (the create). Listed, not
 * `*`, for the reason above; the check below fails to compile when `RunsTable` gains or loses a column and
 * this list does not follow.
 */
export const RUN_ROW_COLUMNS = [
  'id',
  'template',
  'template_version',
  'lane',
  'priority',
  'status',
  'params',
  'labels',
  'attempt',
  'max_attempts',
  'infra_losses',
  'max_infra_losses',
  'recovered',
  'releases',
  'retry_policy',
  'timeout_s',
  'run_at',
  'created_at',
  'started_at',
  'finished_at',
  'heartbeat_at',
  'lease_expires_at',
  'lease_token',
  'worker_id',
  'worker_boot',
  'cancel_requested',
  'cancel_requested_at',
  'session_id',
  'idempotency_key',
  'idempotency_fingerprint',
  'error',
  'output',
  'retry_of',
  'last_seq',
  'search_params',
  'search_text',
] as const satisfies readonly (keyof RunRow)[];

type UnlistedRunColumn = Exclude<keyof RunRow, (typeof RUN_ROW_COLUMNS)[number]>;
/** Compiles only while RUN_ROW_COLUMNS lists every key of RunRow. */
export const RUN_ROW_COLUMNS_COMPLETE: [UnlistedRunColumn] extends [never] ? true : UnlistedRunColumn = true;

/** `alias.id, alias.template, …`: every `RunRow` column. */
export function runRowColumns(alias: string): RawBuilder<unknown> {
  return sql.raw(RUN_ROW_COLUMNS.map((column) => `${alias}.${column}`).join(', '));
}
