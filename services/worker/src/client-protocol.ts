import { ApiError, createClient } from '@ocr/client';
import { LeaseLostError, type ClaimedRun, type WorkerProtocol } from './protocol.js';

/** The worker protocol over the typed client: 409 lease_lost (and 404) become `LeaseLostError`. */
export function createClientProtocol(options: { baseUrl: string; token: string }): WorkerProtocol {
  const client = createClient({ baseUrl: options.baseUrl, token: options.token, timeoutMs: 30_000 });
  const fenced = async <T>(runId: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      if (err instanceof ApiError && (err.code === 'lease_lost' || err.code === 'not_found')) throw new LeaseLostError(runId);
      throw err;
    }
  };
  return {
    async claim(input, signal) {
      const { runs } = await client.worker.claim(input, signal);
      return runs as unknown as ClaimedRun[];
    },
    async heartbeat(leases) {
      const { results } = await client.worker.heartbeatMany(leases);
      return results.map((r) => ({ run_id: r.run_id, ok: r.ok, cancel_requested: r.cancel_requested, lease_expires_at: r.lease_expires_at, code: r.error?.code }));
    },
    appendEvents: (runId, leaseToken, events) => fenced(runId, () => client.worker.appendEvents(runId, leaseToken, events)),
    complete: async (runId, leaseToken, outcome) => {
      await fenced(runId, () => client.worker.complete(runId, leaseToken, outcome));
    },
    release: async (runId, leaseToken, reason) => {
      await fenced(runId, () => client.worker.release(runId, leaseToken, reason));
    },
    createArtifact: (runId, leaseToken, request) => fenced(runId, () => client.worker.createArtifact(runId, { lease_token: leaseToken, ...request })),
    completeArtifact: async (artifactId, leaseToken) => {
      await client.worker.completeArtifact(artifactId, leaseToken);
    },
  };
}
