import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE api_tokens (
      id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      role          text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer', 'worker')),
      token_hash    text NOT NULL UNIQUE,
      prefix        text NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      last_used_at  timestamptz,
      revoked_at    timestamptz
    );

    CREATE TABLE lanes (
      name             text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
      max_concurrency  integer CHECK (max_concurrency IS NULL OR max_concurrency >= 0),
      paused           boolean NOT NULL DEFAULT false,
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE sessions (
      id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name        text NOT NULL,
      status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
      labels      jsonb NOT NULL DEFAULT '{}',
      created_at  timestamptz NOT NULL DEFAULT now(),
      closed_at   timestamptz,
      CHECK ((status = 'closed') = (closed_at IS NOT NULL))
    );

    CREATE TABLE run_templates (
      name         text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'),
      version      integer NOT NULL CHECK (version >= 1),
      description  text NOT NULL DEFAULT '',
      definition   jsonb NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now(),
      deleted_at   timestamptz,
      PRIMARY KEY (name, version)
    );

    CREATE TABLE runs (
      id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      template             text NOT NULL,
      template_version     integer NOT NULL,
      lane                 text NOT NULL REFERENCES lanes (name),
      priority             integer NOT NULL DEFAULT 0,
      status               text NOT NULL DEFAULT 'queued'
                           CHECK (status IN ('queued', 'running', 'success', 'error', 'cancelled')),
      params               jsonb NOT NULL DEFAULT '{}',
      labels               jsonb NOT NULL DEFAULT '{}',
      attempt              integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
      max_attempts         integer NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
      infra_losses         integer NOT NULL DEFAULT 0 CHECK (infra_losses >= 0),
      max_infra_losses     integer NOT NULL DEFAULT 3 CHECK (max_infra_losses >= 1),
      -- attempt counts every lease ever granted (it names the lease's events); infrastructure losses and
      -- hand-backs at shutdown are counted apart so they never spend the step-failure budget.
      releases             integer NOT NULL DEFAULT 0 CHECK (releases >= 0),
      retry_policy         jsonb NOT NULL DEFAULT '{"initial_s": 2, "factor": 2, "max_s": 60}',
      timeout_s            integer CHECK (timeout_s IS NULL OR timeout_s > 0),
      run_at               timestamptz NOT NULL DEFAULT now(),
      -- Millisecond precision so keyset cursors round-trip exactly through JavaScript dates.
      created_at           timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
      started_at           timestamptz,
      finished_at          timestamptz,
      heartbeat_at         timestamptz,
      lease_expires_at     timestamptz,
      lease_token          uuid,
      worker_id            text,
      worker_boot          text,
      cancel_requested     boolean NOT NULL DEFAULT false,
      cancel_requested_at  timestamptz,
      session_id           uuid REFERENCES sessions (id),
      idempotency_key      text,
      error                jsonb,
      output               jsonb,
      retry_of             uuid REFERENCES runs (id),
      last_seq             bigint NOT NULL DEFAULT 0,
      -- The state machine, as invariants: a lease exists exactly while running; finished exactly when terminal.
      CONSTRAINT runs_lease_iff_running CHECK (
        (status = 'running') = (lease_token IS NOT NULL AND worker_id IS NOT NULL AND heartbeat_at IS NOT NULL)),
      CONSTRAINT runs_finished_iff_terminal CHECK (
        (status IN ('success', 'error', 'cancelled')) = (finished_at IS NOT NULL)),
      CONSTRAINT runs_claimed_before_running CHECK (status <> 'running' OR (attempt >= 1 AND started_at IS NOT NULL)),
      CONSTRAINT runs_cancel_flag_has_time CHECK (cancel_requested = (cancel_requested_at IS NOT NULL))
    );
    -- Claim: queued runs of a lane by priority then age (partial, so it stays as small as the backlog).
    CREATE INDEX runs_claim_idx ON runs (lane, priority DESC, run_at, id) WHERE status = 'queued';
    -- Lane concurrency and the sweeper's stale-heartbeat scan.
    CREATE INDEX runs_running_idx ON runs (lane) WHERE status = 'running';
    CREATE INDEX runs_heartbeat_idx ON runs (heartbeat_at) WHERE status = 'running';
    CREATE INDEX runs_worker_idx ON runs (worker_id) WHERE status = 'running';
    -- History listing (keyset on created_at, id) and its filters.
    CREATE INDEX runs_created_idx ON runs (created_at DESC, id DESC);
    CREATE INDEX runs_status_created_idx ON runs (status, created_at DESC, id DESC);
    CREATE INDEX runs_lane_created_idx ON runs (lane, created_at DESC, id DESC);
    CREATE INDEX runs_template_created_idx ON runs (template, created_at DESC, id DESC);
    CREATE INDEX runs_session_idx ON runs (session_id, created_at DESC) WHERE session_id IS NOT NULL;
    CREATE INDEX runs_finished_idx ON runs (lane, finished_at DESC) WHERE finished_at IS NOT NULL;
    CREATE UNIQUE INDEX runs_idempotency_key_idx ON runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX runs_retry_of_idx ON runs (retry_of) WHERE retry_of IS NOT NULL;

    CREATE TABLE run_steps (
      run_id       uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
      attempt      integer NOT NULL,
      idx          integer NOT NULL CHECK (idx >= 0),
      name         text NOT NULL,
      kind         text NOT NULL,
      status       text NOT NULL CHECK (status IN ('running', 'success', 'error', 'cancelled', 'timeout')),
      started_at   timestamptz NOT NULL DEFAULT now(),
      finished_at  timestamptz,
      exit_code    integer,
      PRIMARY KEY (run_id, attempt, idx)
    );

    CREATE TABLE run_events (
      run_id       uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
      seq          bigint NOT NULL,
      attempt      integer NOT NULL,
      attempt_seq  integer,
      ts           timestamptz NOT NULL DEFAULT now(),
      level        text NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
      type         text NOT NULL,
      step         text,
      message      text NOT NULL DEFAULT '',
      data         jsonb,
      PRIMARY KEY (run_id, seq)
    );
    -- Idempotent appends: a worker's retried batch (same attempt, same numbers) inserts nothing twice.
    CREATE UNIQUE INDEX run_events_attempt_seq_idx ON run_events (run_id, attempt, attempt_seq)
      WHERE attempt_seq IS NOT NULL;

    CREATE TABLE artifacts (
      id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      run_id        uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
      attempt       integer NOT NULL,
      name          text NOT NULL,
      kind          text NOT NULL CHECK (kind IN ('text', 'markdown', 'json', 'diff', 'image', 'file', 'zip')),
      content_type  text NOT NULL,
      size          bigint NOT NULL CHECK (size >= 0),
      sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      status        text NOT NULL CHECK (status IN ('pending', 'ready')),
      storage       text NOT NULL CHECK (storage IN ('inline', 's3')),
      content       text,
      object_key    text,
      created_at    timestamptz NOT NULL DEFAULT now(),
      completed_at  timestamptz,
      CHECK ((storage = 'inline') = (content IS NOT NULL)),
      CHECK ((storage = 's3') = (object_key IS NOT NULL)),
      CHECK ((status = 'ready') = (completed_at IS NOT NULL))
    );
    CREATE INDEX artifacts_run_idx ON artifacts (run_id, created_at);

    CREATE TABLE spec_docs (
      id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      project      text NOT NULL,
      name         text NOT NULL,
      version      integer NOT NULL CHECK (version >= 1),
      content      text NOT NULL,
      run_id       uuid REFERENCES runs (id) ON DELETE SET NULL,
      artifact_id  uuid REFERENCES artifacts (id) ON DELETE SET NULL,
      created_at   timestamptz NOT NULL DEFAULT now(),
      UNIQUE (project, name, version)
    );

    CREATE TABLE workers (
      id            text PRIMARY KEY,
      boot_id       text NOT NULL,
      lanes         text[] NOT NULL DEFAULT '{}',
      version       text NOT NULL DEFAULT '',
      hostname      text NOT NULL DEFAULT '',
      concurrency   integer NOT NULL DEFAULT 1,
      started_at    timestamptz NOT NULL DEFAULT now(),
      last_seen_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX workers_last_seen_idx ON workers (last_seen_at DESC);

    -- Sweeper leadership: a lease with a TTL, because a frozen process keeps its Postgres session
    -- (and any session advisory lock) alive forever.
    CREATE TABLE leader_leases (
      name        text PRIMARY KEY,
      holder      text NOT NULL,
      expires_at  timestamptz NOT NULL,
      acquired_at timestamptz NOT NULL DEFAULT now()
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS leader_leases, workers, spec_docs, artifacts, run_events, run_steps, runs,
      run_templates, sessions, lanes, api_tokens CASCADE;
  `.execute(db);
}
