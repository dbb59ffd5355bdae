/**
 * The worker's view of the API: the worker protocol and nothing else (a worker holds no database or
 * bucket credentials). `client-protocol.ts` implements it over `@ocr/client`.
 */

/** A run as the worker needs it from a claim. */
export interface ClaimedRun {
  run: {
    id: string;
    template: string;
    template_version: number;
    lane: string;
    attempt: number;
    params: Record<string, unknown>;
    [key: string]: unknown;
  };
  lease_token: string;
  lease_expires_at: string;
  steps: Record<string, unknown>[];
  timeout_s: number | null;
}

export interface WorkerEvent {
  seq: number;
  ts: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  type: string;
  step?: string | null;
  message: string;
  data?: unknown;
}

export interface HeartbeatResult {
  run_id: string;
  ok: boolean;
  cancel_requested?: boolean;
  lease_expires_at?: string;
  /** `lease_lost` or `not_found` when not ok. */
  code?: string;
}

export interface ArtifactRequest {
  name: string;
  kind: 'text' | 'markdown' | 'json' | 'diff' | 'image' | 'file' | 'zip';
  content_type: string;
  size: number;
  sha256: string;
  content?: string;
}

export interface ArtifactGrant {
  artifact: { id: string; status: string };
  upload?: { url: string; method: string; headers?: Record<string, string> };
}

export interface WorkerProtocol {
  claim(
    input: { worker_id: string; boot_id: string; lanes: string[]; limit: number; wait_ms: number; version: string; concurrency: number },
    signal?: AbortSignal,
  ): Promise<ClaimedRun[]>;
  heartbeat(leases: { run_id: string; lease_token: string }[]): Promise<HeartbeatResult[]>;
  /** Rejects with a `LeaseLostError` when the lease is gone. */
  appendEvents(runId: string, leaseToken: string, events: WorkerEvent[]): Promise<{ accepted: number; last_seq: number }>;
  complete(
    runId: string,
    leaseToken: string,
    outcome: {
      status: 'success' | 'error' | 'cancelled';
      error?: { code: string; message: string; details?: unknown };
      output?: unknown;
      /** Last events of the attempt, stored before it completes. */
      events?: WorkerEvent[];
    },
  ): Promise<{ refused?: string }>;
  release(runId: string, leaseToken: string, reason: string): Promise<void>;
  createArtifact(runId: string, leaseToken: string, request: ArtifactRequest): Promise<ArtifactGrant>;
  completeArtifact(artifactId: string, leaseToken: string): Promise<void>;
  /** Store documents as new spec_docs versions of `project` (Spec Kit); fenced. */
  storeSpecDocs(runId: string, leaseToken: string, project: string, docs: { name: string; content: string; artifact_id?: string }[]): Promise<StoredSpecDoc[]>;
  /** The latest spec_docs of a project the run names as input; fenced. */
  readSpecDocs(runId: string, leaseToken: string, project: string): Promise<{ name: string; content: string }[]>;
  /** An artifact the run names as input: inline content or a short-lived download URL; fenced. */
  readArtifact(runId: string, leaseToken: string, artifactId: string): Promise<ArtifactInput>;
}

/** A spec_docs row as stored. */
export interface StoredSpecDoc {
  id: string;
  project: string;
  name: string;
  version: number;
  artifact_id: string | null;
}

/** An input artifact: inline text, or where to download it. */
export interface ArtifactInput {
  artifact: { id: string; name: string; kind: string; size: number };
  content?: string;
  download_url?: string;
}

/** The API said this lease is no longer ours (409 lease_lost / 404): stop the run, write nothing more. */
export class LeaseLostError extends Error {
  readonly code = 'lease_lost';
  constructor(readonly runId: string) {
    super(`lease lost for run ${runId}`);
    this.name = 'LeaseLostError';
  }
}
