/**
 * The worker's view of the API: the worker protocol and nothing else (a worker holds no database or
 * bucket credentials). `client-protocol.ts` implements it over `@ocr/client`. Every shape on the wire is
 * the one `@ocr/contracts` defines; only the worker-side conveniences (a heartbeat result with its code
 * flattened, an event as the worker numbers it) are declared here, derived from those.
 */
import type {
  ArtifactGrant as WireArtifactGrant,
  ArtifactInput as WireArtifactInput,
  ClaimedRun as WireClaimedRun,
  ClaimRequest,
  ClaimResponse,
  CreateArtifact,
  WorkerEvent as WireWorkerEvent,
} from '@ocr/contracts';
import type { Completion } from '@ocr/client';

/** A run as a claim hands it out: the wire's, with its params and steps as the worker reads them. */
export type ClaimedRun = Omit<WireClaimedRun, 'run' | 'steps'> & {
  run: Omit<WireClaimedRun['run'], 'params'> & { params: Record<string, unknown> };
  steps: Record<string, unknown>[];
};

/** A claim reply: the runs and the heartbeat rhythm the API expects (its settings, not the worker's). */
export type ClaimReply = Omit<ClaimResponse, 'runs'> & { runs: ClaimedRun[] };

/** An event as the worker sends it: always numbered, stamped and with a message. */
export type WorkerEvent = WireWorkerEvent & { ts: string; message: string };

export interface HeartbeatResult {
  run_id: string;
  ok: boolean;
  cancel_requested?: boolean;
  lease_expires_at?: string;
  /** `lease_lost` or `not_found` when not ok. */
  code?: string;
}

export type ArtifactRequest = Omit<CreateArtifact, 'lease_token'>;
export type ArtifactGrant = WireArtifactGrant;
export type ArtifactInput = WireArtifactInput;

export interface WorkerProtocol {
  claim(
    input: Required<
      Pick<ClaimRequest, 'worker_id' | 'boot_id' | 'lanes' | 'limit' | 'wait_ms' | 'version' | 'concurrency'>
    >,
    signal?: AbortSignal,
  ): Promise<ClaimReply>;
  heartbeat(leases: { run_id: string; lease_token: string }[]): Promise<HeartbeatResult[]>;
  /** Rejects with a `LeaseLostError` when the lease is gone. */
  appendEvents(
    runId: string,
    leaseToken: string,
    events: WorkerEvent[],
  ): Promise<{ accepted: number; last_seq: number }>;
  /**
   * Finish the attempt (its last events first). `refused` when the API refused this completion as sent
   * and the run was completed as failed (`completion_refused`) instead.
   */
  complete(runId: string, leaseToken: string, outcome: Completion): Promise<{ refused?: string }>;
  release(runId: string, leaseToken: string, reason: string): Promise<void>;
  createArtifact(runId: string, leaseToken: string, request: ArtifactRequest): Promise<ArtifactGrant>;
  completeArtifact(artifactId: string, leaseToken: string): Promise<void>;
  /** Store documents as new spec_docs versions of `project` (Spec Kit); fenced. */
  storeSpecDocs(
    runId: string,
    leaseToken: string,
    project: string,
    docs: { name: string; content: string; artifact_id?: string }[],
  ): Promise<StoredSpecDoc[]>;
  /** The latest spec_docs of a project the run names as input; fenced. */
  readSpecDocs(
    runId: string,
    leaseToken: string,
    project: string,
  ): Promise<{ name: string; content: string }[]>;
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

/** The API said this lease is no longer ours (409 lease_lost / 404): stop the run, write nothing more. */
export class LeaseLostError extends Error {
  readonly code = 'lease_lost';
  constructor(readonly runId: string) {
    super(`lease lost for run ${runId}`);
    this.name = 'LeaseLostError';
  }
}
