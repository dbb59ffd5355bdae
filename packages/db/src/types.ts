import type { ColumnType, Generated, Selectable } from 'kysely';

/** JSON stored in jsonb columns. */
export type Json = unknown;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;
/** A token's lane or template allowlist: null (the default) allows every name. */
type Allowlist = ColumnType<string[] | null, string[] | null | undefined, string[] | null>;

export type RunStatus = 'queued' | 'running' | 'success' | 'error' | 'cancelled';
export const TERMINAL_STATUSES: readonly RunStatus[] = ['success', 'error', 'cancelled'];
export type Role = 'admin' | 'operator' | 'viewer' | 'worker';

export interface ApiTokensTable {
  id: Generated<string>;
  name: string;
  role: Role;
  token_hash: string;
  prefix: string;
  created_at: Generated<Date>;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  /** The only lanes this token may touch; null: every lane. */
  lanes: Allowlist;
  /** The only templates this token may touch; null: every template. */
  templates: Allowlist;
}

export interface LanesTable {
  name: string;
  max_concurrency: number | null;
  paused: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface SessionsTable {
  id: Generated<string>;
  name: string;
  status: Generated<'open' | 'closed'>;
  labels: Generated<Json>;
  created_at: Generated<Date>;
  closed_at: NullableTimestamp;
}

export interface RunTemplatesTable {
  name: string;
  version: number;
  description: Generated<string>;
  definition: Json;
  created_at: Generated<Date>;
  deleted_at: NullableTimestamp;
}

export interface RunsTable {
  id: Generated<string>;
  template: string;
  template_version: number;
  lane: string;
  priority: Generated<number>;
  status: Generated<RunStatus>;
  params: Generated<Json>;
  labels: Generated<Json>;
  attempt: Generated<number>;
  max_attempts: Generated<number>;
  infra_losses: Generated<number>;
  max_infra_losses: Generated<number>;
  /** Requeued by the sweeper at least once (its worker was lost): counted for the recovery success rate. */
  recovered: Generated<boolean>;
  releases: Generated<number>;
  retry_policy: Generated<Json>;
  timeout_s: number | null;
  run_at: Generated<Date>;
  created_at: Generated<Date>;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  heartbeat_at: NullableTimestamp;
  lease_expires_at: NullableTimestamp;
  lease_token: string | null;
  worker_id: string | null;
  worker_boot: string | null;
  cancel_requested: Generated<boolean>;
  cancel_requested_at: NullableTimestamp;
  session_id: string | null;
  idempotency_key: string | null;
  /** sha256 of the request that first used `idempotency_key` (null before the column existed). */
  idempotency_fingerprint: string | null;
  error: Json | null;
  output: Json | null;
  retry_of: string | null;
  last_seq: Generated<number>;
  /** The params a search may see (secret ones removed), kept by a trigger; searched in `run_search`. */
  search_params: Generated<Json | null>;
  /** Template name, searchable params and labels as text, kept by a trigger; searched in `run_search`. */
  search_text: Generated<string | null>;
}

/**
 * What run search looks at, one row per run, written once by a trigger when the run is inserted: its GIN
 * indexes (pg_trgm on `search_text`, jsonb_path_ops on `search_params`) live here, off the hot `runs` table.
 */
export interface RunSearchTable {
  run_id: string;
  search_params: Json;
  search_text: string;
}

export interface RunStepsTable {
  run_id: string;
  attempt: number;
  idx: number;
  name: string;
  kind: string;
  status: 'running' | 'success' | 'error' | 'cancelled' | 'timeout';
  started_at: Generated<Date>;
  finished_at: NullableTimestamp;
  exit_code: number | null;
}

export interface RunEventsTable {
  run_id: string;
  seq: number;
  attempt: number;
  attempt_seq: number | null;
  ts: Generated<Date>;
  level: 'debug' | 'info' | 'warn' | 'error';
  type: string;
  step: string | null;
  message: Generated<string>;
  data: Json | null;
}

export type ArtifactKind = 'text' | 'markdown' | 'json' | 'diff' | 'image' | 'file' | 'zip';

export interface ArtifactsTable {
  id: Generated<string>;
  run_id: string;
  attempt: number;
  name: string;
  kind: ArtifactKind;
  content_type: string;
  size: number;
  sha256: string;
  status: 'pending' | 'ready';
  storage: 'inline' | 's3';
  content: string | null;
  object_key: string | null;
  created_at: Generated<Date>;
  completed_at: NullableTimestamp;
  /** The run's template and lane, copied on insert by a trigger (artifact search filters on them). */
  template: Generated<string>;
  lane: Generated<string>;
}

export interface SpecDocsTable {
  id: Generated<string>;
  project: string;
  name: string;
  version: number;
  content: string;
  run_id: string | null;
  artifact_id: string | null;
  created_at: Generated<Date>;
}

export interface WorkersTable {
  id: string;
  boot_id: string;
  lanes: string[];
  version: Generated<string>;
  hostname: Generated<string>;
  concurrency: Generated<number>;
  started_at: Generated<Date>;
  last_seen_at: Generated<Date>;
  /** The api_tokens row that registered this identity; only that token may claim as it. */
  token_id: string | null;
}

export interface LeaderLeasesTable {
  name: string;
  holder: string;
  expires_at: Timestamp;
  acquired_at: Generated<Date>;
}

/** The whole schema, for `Kysely<Database>`. */
export interface Database {
  api_tokens: ApiTokensTable;
  lanes: LanesTable;
  sessions: SessionsTable;
  run_templates: RunTemplatesTable;
  runs: RunsTable;
  run_search: RunSearchTable;
  run_steps: RunStepsTable;
  run_events: RunEventsTable;
  /** View: `run_events` plus the events folded into `runs.timeline`; what every reader reads. */
  run_timeline: RunEventsTable;
  /** View: `run_steps` plus the step rows folded into `runs.steps`; what every reader reads. */
  run_steps_all: RunStepsTable;
  artifacts: ArtifactsTable;
  spec_docs: SpecDocsTable;
  workers: WorkersTable;
  leader_leases: LeaderLeasesTable;
}

export type RunRow = Selectable<RunsTable>;
export type RunEventRow = Selectable<RunEventsTable>;
export type RunStepRow = Selectable<RunStepsTable>;
export type ArtifactRow = Selectable<ArtifactsTable>;
export type LaneRow = Selectable<LanesTable>;
export type TemplateRow = Selectable<RunTemplatesTable>;
export type SessionRow = Selectable<SessionsTable>;
export type WorkerRow = Selectable<WorkersTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;
export type SpecDocRow = Selectable<SpecDocsTable>;
