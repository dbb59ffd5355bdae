import Type, { type Static } from 'typebox';
import { ArtifactKind, LaneName, Level, Uuid } from './common.js';
import { Artifact, Run, RunError } from './runs.js';
import { SpecDoc } from './admin.js';

const strict = { additionalProperties: false } as const;
const LeaseToken = Uuid;

export const ClaimRequest = Type.Object(
  {
    worker_id: Type.String({ minLength: 1, maxLength: 200 }),
    boot_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    lanes: Type.Array(LaneName, { minItems: 1, maxItems: 100 }),
    session_id: Type.Optional(Uuid),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1 })),
    wait_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000, default: 0 })),
    version: Type.Optional(Type.String({ maxLength: 100 })),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  strict,
);
export type ClaimRequest = Static<typeof ClaimRequest>;

export const ClaimedRun = Type.Object({
  run: Run,
  lease_token: LeaseToken,
  lease_expires_at: Type.String(),
  steps: Type.Array(Type.Unknown()),
  timeout_s: Type.Union([Type.Integer(), Type.Null()]),
  /** Params the template marks secret (`writeOnly` / `format: password`): the worker masks their values in everything it sends back. */
  secret_params: Type.Optional(Type.Array(Type.String())),
});
export type ClaimedRun = Static<typeof ClaimedRun>;
/**
 * The API tells its workers how often to heartbeat and how long a silent lease lasts: one source of truth
 * (the API's OCR_HEARTBEAT_INTERVAL_S / OCR_HEARTBEAT_TIMEOUT_S) instead of every worker's own settings.
 */
export const ClaimResponse = Type.Object({
  runs: Type.Array(ClaimedRun),
  heartbeat_interval_s: Type.Number(),
  heartbeat_timeout_s: Type.Number(),
});
export type ClaimResponse = Static<typeof ClaimResponse>;

export const LeaseBody = Type.Object({ lease_token: LeaseToken }, strict);
export type LeaseItem = Static<typeof LeaseItemSchema>;
export const HeartbeatResponse = Type.Object({
  cancel_requested: Type.Boolean(),
  lease_expires_at: Type.String(),
});

const LeaseItemSchema = Type.Object({ run_id: Uuid, lease_token: LeaseToken }, strict);
export const HeartbeatBatch = Type.Object(
  { leases: Type.Array(LeaseItemSchema, { minItems: 1, maxItems: 1000 }) },
  strict,
);
export const BatchItemResult = Type.Object({
  run_id: Uuid,
  ok: Type.Boolean(),
  cancel_requested: Type.Optional(Type.Boolean()),
  lease_expires_at: Type.Optional(Type.String()),
  status: Type.Optional(Type.String()),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
});
export type BatchItemResult = Static<typeof BatchItemResult>;
export const BatchResults = Type.Object({ results: Type.Array(BatchItemResult) });

/** Longest event message stored; a worker cuts longer ones (output lines are far shorter: 16 KiB). */
export const MAX_EVENT_MESSAGE = 1_000_000;

export const WorkerEvent = Type.Object(
  {
    seq: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
    ts: Type.Optional(Type.String({ format: 'date-time' })),
    level: Level,
    type: Type.String({ minLength: 1, maxLength: 100 }),
    step: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
    message: Type.Optional(Type.String({ maxLength: MAX_EVENT_MESSAGE })),
    data: Type.Optional(Type.Unknown()),
  },
  strict,
);
export type WorkerEvent = Static<typeof WorkerEvent>;
export const AppendEvents = Type.Object(
  { lease_token: LeaseToken, events: Type.Array(WorkerEvent, { minItems: 1, maxItems: 5000 }) },
  strict,
);
export const AppendEventsResponse = Type.Object({ accepted: Type.Integer(), last_seq: Type.Integer() });

const CompletionFields = {
  status: Type.Union([Type.Literal('success'), Type.Literal('error'), Type.Literal('cancelled')]),
  error: Type.Optional(RunError),
  output: Type.Optional(Type.Unknown()),
  /** The attempt's last events, appended (idempotently) under the same lease before it completes: one round trip. */
  events: Type.Optional(Type.Array(WorkerEvent, { maxItems: 5000 })),
};
export const CompleteRequest = Type.Object({ lease_token: LeaseToken, ...CompletionFields }, strict);
export const CompleteBatch = Type.Object(
  {
    completions: Type.Array(
      Type.Object({ run_id: Uuid, lease_token: LeaseToken, ...CompletionFields }, strict),
      { minItems: 1, maxItems: 1000 },
    ),
  },
  strict,
);
export const ReleaseRequest = Type.Object(
  { lease_token: LeaseToken, reason: Type.String({ minLength: 1, maxLength: 200 }) },
  strict,
);

export const CreateArtifact = Type.Object(
  {
    lease_token: LeaseToken,
    name: Type.String({ minLength: 1, maxLength: 300 }),
    kind: ArtifactKind,
    content_type: Type.String({ minLength: 1, maxLength: 200 }),
    size: Type.Integer({ minimum: 0, maximum: 5 * 1024 ** 4 }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    content: Type.Optional(Type.String({ maxLength: 262_144 })),
  },
  strict,
);
export type CreateArtifact = Static<typeof CreateArtifact>;
export const ArtifactGrant = Type.Object({
  artifact: Artifact,
  upload: Type.Optional(
    Type.Object({
      url: Type.String(),
      method: Type.String(),
      headers: Type.Record(Type.String(), Type.String()),
      expires_in_s: Type.Integer(),
    }),
  ),
});

export type ArtifactGrant = Static<typeof ArtifactGrant>;

/** A document a run stores as a new version of its project's spec doc of that name. */
export const SpecDocInput = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }),
    content: Type.String({ maxLength: 1_000_000 }),
    artifact_id: Type.Optional(Uuid),
  },
  strict,
);
/** `POST /v1/runs/:id/spec-docs`: store documents for the run's current attempt (fenced). */
export const StoreSpecDocs = Type.Object(
  {
    lease_token: LeaseToken,
    project: Type.String({ minLength: 1, maxLength: 200 }),
    docs: Type.Array(SpecDocInput, { minItems: 1, maxItems: 20 }),
  },
  strict,
);
export const SpecDocsResponse = Type.Object({ spec_docs: Type.Array(SpecDoc) });
/** `POST /v1/runs/:id/inputs/spec-docs`: the latest documents of a project the run names (fenced). */
export const ReadSpecDocsInput = Type.Object(
  { lease_token: LeaseToken, project: Type.String({ minLength: 1, maxLength: 200 }) },
  strict,
);
/** `POST /v1/runs/:id/inputs/artifact`: an artifact the run names, to read as its input (fenced). */
export const ReadArtifactInput = Type.Object({ lease_token: LeaseToken, artifact_id: Uuid }, strict);
/** Inline content, or a short-lived download URL for an object in storage. */
export const ArtifactInput = Type.Object({
  artifact: Artifact,
  content: Type.Optional(Type.String()),
  download_url: Type.Optional(Type.String()),
});
export type ArtifactInput = Static<typeof ArtifactInput>;
