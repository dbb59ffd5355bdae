import Type, { type Static } from 'typebox';
import {
  AfterSeq,
  ArtifactKind,
  Labels,
  LaneName,
  Level,
  NullableTimestamp,
  RunStatus,
  TemplateName,
  Timestamp,
  Uuid,
} from './common.js';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const RunError = Type.Object({
  code: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Unknown()),
});

/** A run on the wire. `wait_reason` answers "why isn't it running" for a queued run. */
export const Run = Type.Object(
  {
    id: Uuid,
    template: Type.String(),
    template_version: Type.Integer(),
    lane: Type.String(),
    priority: Type.Integer(),
    status: RunStatus,
    params: Type.Unknown(),
    attempt: Type.Integer(),
    max_attempts: Type.Integer(),
    run_at: Timestamp,
    created_at: Timestamp,
    started_at: NullableTimestamp,
    finished_at: NullableTimestamp,
    heartbeat_at: NullableTimestamp,
    worker_id: Nullable(Type.String()),
    cancel_requested: Type.Boolean(),
    session_id: Nullable(Uuid),
    labels: Type.Unknown(),
    error: Nullable(RunError),
    output: Type.Unknown(),
    retry_of: Nullable(Uuid),
    wait_reason: Nullable(Type.String()),
  },
  { $id: 'Run' },
);
export type Run = Static<typeof Run>;

export const RunStep = Type.Object({
  idx: Type.Integer(),
  attempt: Type.Integer(),
  name: Type.String(),
  kind: Type.String(),
  status: Type.String(),
  started_at: Timestamp,
  finished_at: NullableTimestamp,
  exit_code: Nullable(Type.Integer()),
});

/** POST /v1/runs (and each item of /v1/runs/batch). */
export const CreateRun = Type.Object(
  {
    template: TemplateName,
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    lane: Type.Optional(LaneName),
    priority: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000 })),
    labels: Type.Optional(Labels),
    session_id: Type.Optional(Uuid),
    run_at: Type.Optional(Type.String({ format: 'date-time' })),
    delay_s: Type.Optional(Type.Number({ minimum: 0, maximum: 31_536_000 })),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  { ...strict, $id: 'CreateRun' },
);
export type CreateRun = Static<typeof CreateRun>;

export const CreateRunsBatch = Type.Object(
  { runs: Type.Array(CreateRun, { minItems: 1, maxItems: 1000 }) },
  strict,
);
export const RunResponse = Type.Object({ run: Run });
export const RunsResponse = Type.Object({ runs: Type.Array(Run) });
export const RunDetail = Type.Object({ run: Run, steps: Type.Array(RunStep) });

export const ListRunsQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([RunStatus, Type.Literal('scheduled')])),
    lane: Type.Optional(LaneName),
    template: Type.Optional(TemplateName),
    session_id: Type.Optional(Uuid),
    created_after: Type.Optional(Type.String({ format: 'date-time' })),
    created_before: Type.Optional(Type.String({ format: 'date-time' })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** A JSON object: runs whose (non-secret) params contain it, e.g. `{"env":"prod"}`. */
    params: Type.Optional(Type.String({ minLength: 2, maxLength: 1000 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  strict,
);
export type ListRunsQuery = Static<typeof ListRunsQuery>;
export const RunList = Type.Object({ runs: Type.Array(Run), next_cursor: Nullable(Type.String()) });

export const RunEvent = Type.Object(
  {
    seq: Type.Integer(),
    ts: Timestamp,
    attempt: Type.Integer(),
    level: Level,
    type: Type.String(),
    step: Nullable(Type.String()),
    message: Type.String(),
    data: Type.Unknown(),
  },
  { $id: 'RunEvent' },
);
export type RunEvent = Static<typeof RunEvent>;

export const EventsQuery = Type.Object(
  {
    after_seq: Type.Optional(Type.Integer({ ...AfterSeq, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 1000 })),
    level: Type.Optional(Type.String({ pattern: '^(debug|info|warn|error)(,(debug|info|warn|error))*$' })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  strict,
);
export const EventList = Type.Object({ events: Type.Array(RunEvent), last_seq: Type.Integer() });

export const ExportQuery = Type.Object(
  { format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('markdown')])) },
  strict,
);

export const Artifact = Type.Object(
  {
    id: Uuid,
    run_id: Uuid,
    name: Type.String(),
    kind: ArtifactKind,
    content_type: Type.String(),
    size: Type.Integer(),
    sha256: Type.String(),
    status: Type.Union([Type.Literal('pending'), Type.Literal('ready')]),
    created_at: Timestamp,
  },
  { $id: 'Artifact' },
);
export type Artifact = Static<typeof Artifact>;
export const ArtifactList = Type.Object({ artifacts: Type.Array(Artifact) });
export const ArtifactWithUrl = Type.Object({ artifact: Artifact, download_url: Nullable(Type.String()) });

/** GET /v1/artifacts: artifacts across runs. Sizes in bytes; dates as for runs (after inclusive, before exclusive). */
export const ArtifactSearchQuery = Type.Object(
  {
    run_id: Type.Optional(Uuid),
    template: Type.Optional(TemplateName),
    lane: Type.Optional(LaneName),
    kind: Type.Optional(ArtifactKind),
    content_type: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** `*` any run of characters, `?` one; without either, a substring. Case-insensitive. */
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    created_after: Type.Optional(Type.String({ format: 'date-time' })),
    created_before: Type.Optional(Type.String({ format: 'date-time' })),
    min_size: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    max_size: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  strict,
);
export type ArtifactSearchQuery = Static<typeof ArtifactSearchQuery>;
/** An artifact found by a search, with its run's template and lane. */
export const ArtifactSearchItem = Type.Object(
  { ...Artifact.properties, template: Type.String(), lane: Type.String() },
  { $id: 'ArtifactSearchItem' },
);
export type ArtifactSearchItem = Static<typeof ArtifactSearchItem>;
export const ArtifactSearchList = Type.Object({
  artifacts: Type.Array(ArtifactSearchItem),
  next_cursor: Nullable(Type.String()),
});

/** GET /v1/runs/compare: two runs side by side. */
export const RunCompareQuery = Type.Object({ a: Uuid, b: Uuid }, strict);
// Each side's copy without `$id`: one schema may not hold the same `$id` twice.
const CompareRun = Type.Object(Run.properties);
const CompareArtifact = Type.Object(Artifact.properties);
const CompareStepSide = Type.Object({
  status: Type.String(),
  duration_ms: Nullable(Type.Integer()),
  exit_code: Nullable(Type.Integer()),
  /** The step's log lines of the run's last attempt, joined by newlines. */
  output: Type.String(),
});
export const RunComparison = Type.Object(
  {
    a: CompareRun,
    b: CompareRun,
    /** Every param key of either run (secret ones masked as in Run). */
    params: Type.Array(
      Type.Object({
        key: Type.String(),
        a: Type.Optional(Type.Unknown()),
        b: Type.Optional(Type.Unknown()),
        same: Type.Boolean(),
      }),
    ),
    /** Steps matched by name, in a's order then b's extra ones; null where a run has no such step. */
    steps: Type.Array(
      Type.Object({ name: Type.String(), a: Nullable(CompareStepSide), b: Nullable(CompareStepSide) }),
    ),
    /** Artifacts matched by name; `same` when both exist with the same sha256. */
    artifacts: Type.Array(
      Type.Object({
        name: Type.String(),
        a: Nullable(CompareArtifact),
        b: Nullable(CompareArtifact),
        same: Type.Boolean(),
      }),
    ),
    /** True when a run has more log lines than a comparison reads (5,000 per run). */
    output_truncated: Type.Boolean(),
  },
  { $id: 'RunComparison' },
);
export type RunComparison = Static<typeof RunComparison>;
