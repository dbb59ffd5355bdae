/**
 * What a built-in step may ask of the API about its own run (`StepContext.runApi`), bound to the run and
 * its lease: upload an artifact now, store Spec Kit documents, read the run's named inputs. Executors
 * still never see the protocol, the token or the lease.
 */
import { uploadArtifactNow, type StoreOptions } from './artifacts.js';
import type { RunApi, StepEvent } from './executors/types.js';
import type { WorkerProtocol } from './protocol.js';

/** Input artifacts larger than this are refused (a spec kit is a few text files). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** An input could not be read. */
export class RunInputError extends Error {
  readonly code = 'input_unavailable';
  constructor(message: string) {
    super(message);
    this.name = 'RunInputError';
  }
}

export function createRunApi(
  api: WorkerProtocol,
  runId: string,
  leaseToken: string,
  step: () => string,
  emit: (event: StepEvent) => void,
  store: StoreOptions,
): RunApi {
  return {
    async uploadArtifact(artifact) {
      const id = await uploadArtifactNow(api, runId, leaseToken, { ...artifact, step: step() }, store);
      emit({
        level: 'info',
        type: 'artifact',
        message: `artifact ${artifact.name} uploaded`,
        data: { name: artifact.name, kind: artifact.kind, artifact_id: id },
      });
      return { id };
    },
    storeSpecDocs: (project, docs) => api.storeSpecDocs(runId, leaseToken, project, docs),
    readSpecDocs: (project) => api.readSpecDocs(runId, leaseToken, project),
    async readArtifact(artifactId, signal) {
      const input = await api.readArtifact(runId, leaseToken, artifactId);
      const meta = { name: input.artifact.name, kind: input.artifact.kind };
      if (input.content !== undefined) return { ...meta, bytes: new TextEncoder().encode(input.content) };
      if (!input.download_url)
        throw new RunInputError(`artifact ${artifactId} has neither content nor a download URL`);
      if (input.artifact.size > MAX_INPUT_BYTES)
        throw new RunInputError(
          `artifact ${artifactId} is ${input.artifact.size} bytes; inputs are limited to ${MAX_INPUT_BYTES}`,
        );
      const response = await fetch(input.download_url, { signal });
      if (!response.ok)
        throw new RunInputError(`artifact ${artifactId}: download failed with HTTP ${response.status}`);
      return { ...meta, bytes: new Uint8Array(await response.arrayBuffer()) };
    },
  };
}
