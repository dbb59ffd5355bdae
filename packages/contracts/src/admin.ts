import Type, { type Static } from 'typebox';
import { Labels, LaneName, NullableTimestamp, Role, TemplateName, Timestamp, Uuid } from './common.js';

const strict = { additionalProperties: false } as const;

/** A token's allowlist as stored and shown: null allows every name. */
const ScopeList = Type.Union([Type.Array(Type.String()), Type.Null()]);
const scopeFields = {
  lanes: ScopeList,
  templates: ScopeList,
};

export const CreateToken = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: Role,
    lanes: Type.Optional(
      Type.Array(LaneName, {
        minItems: 1,
        maxItems: 100,
        uniqueItems: true,
        description:
          'the only lanes this token may touch (runs, events, artifacts, stream, worker claims); omit for every lane',
      }),
    ),
    templates: Type.Optional(
      Type.Array(TemplateName, {
        minItems: 1,
        maxItems: 100,
        uniqueItems: true,
        description:
          'the only templates this token may touch (templates and their runs); omit for every template',
      }),
    ),
  },
  strict,
);
export const TokenInfo = Type.Object({
  id: Uuid,
  name: Type.String(),
  role: Role,
  ...scopeFields,
  prefix: Type.String(),
  created_at: Timestamp,
  last_used_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
});
export const CreatedToken = Type.Object({
  id: Uuid,
  name: Type.String(),
  role: Role,
  ...scopeFields,
  token: Type.String({ description: 'shown once' }),
});
export const TokenList = Type.Object({ tokens: Type.Array(TokenInfo) });
export const WhoAmI = Type.Object({ token_id: Uuid, name: Type.String(), role: Role, ...scopeFields });

export const LaneRunSummary = Type.Object({
  id: Uuid,
  template: Type.String(),
  status: Type.String(),
  worker_id: Type.Union([Type.String(), Type.Null()]),
  started_at: NullableTimestamp,
  finished_at: NullableTimestamp,
  heartbeat_at: NullableTimestamp,
  current_step: Type.Union([Type.String(), Type.Null()]),
  last_line: Type.Union([Type.String(), Type.Null()]),
});
export const Lane = Type.Object(
  {
    name: Type.String(),
    max_concurrency: Type.Union([Type.Integer(), Type.Null()]),
    paused: Type.Boolean(),
    depth: Type.Integer(),
    scheduled: Type.Integer(),
    running: Type.Integer(),
    oldest_queued_age_s: Type.Union([Type.Number(), Type.Null()]),
    workers_live: Type.Integer(),
    /** Runs the sweeper requeued after losing their worker, by how they ended (`pending`: not yet). */
    recovered: Type.Object({
      success: Type.Integer(),
      error: Type.Integer(),
      cancelled: Type.Integer(),
      pending: Type.Integer(),
    }),
    active: Type.Array(LaneRunSummary),
    last_completed: Type.Union([LaneRunSummary, Type.Null()]),
  },
  { $id: 'Lane' },
);
export type Lane = Static<typeof Lane>;
export const LaneList = Type.Object({ lanes: Type.Array(Lane) });
export const UpdateLane = Type.Object(
  {
    max_concurrency: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 100_000 }), Type.Null()])),
    paused: Type.Optional(Type.Boolean()),
  },
  strict,
);
export const LaneParams = Type.Object({ name: LaneName }, strict);
export const LaneMetrics = Type.Object({
  lanes: Type.Record(
    Type.String(),
    Type.Object({ depth: Type.Integer(), running: Type.Integer(), oldest_wait_s: Type.Number() }),
  ),
});

export const Session = Type.Object({
  id: Uuid,
  name: Type.String(),
  status: Type.String(),
  labels: Type.Unknown(),
  created_at: Timestamp,
  closed_at: NullableTimestamp,
});
export const CreateSession = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }), labels: Type.Optional(Labels) },
  strict,
);
export const SessionList = Type.Object({ sessions: Type.Array(Session) });

export const WorkerInfo = Type.Object({
  id: Type.String(),
  boot_id: Type.String(),
  lanes: Type.Array(Type.String()),
  version: Type.String(),
  concurrency: Type.Integer(),
  started_at: Timestamp,
  last_seen_at: Timestamp,
  live: Type.Boolean(),
  running: Type.Integer(),
});
export const WorkerList = Type.Object({ workers: Type.Array(WorkerInfo) });

export const SpecDoc = Type.Object({
  id: Uuid,
  project: Type.String(),
  name: Type.String(),
  version: Type.Integer(),
  content: Type.Optional(Type.String()),
  run_id: Type.Union([Uuid, Type.Null()]),
  artifact_id: Type.Union([Uuid, Type.Null()]),
  created_at: Timestamp,
});
export const SpecDocList = Type.Object({ spec_docs: Type.Array(SpecDoc) });
export const SpecDocsQuery = Type.Object({ project: Type.Optional(Type.String({ maxLength: 200 })) }, strict);
