import { ApiError, createClient } from '@ocr/client';
import { createApiFetch } from './api-fetch.js';
import { LeaseLostError, type ClaimReply, type WorkerProtocol } from './protocol.js';

type Client = ReturnType<typeof createClient>;
type Item = Parameters<Client['worker']['completeMany']>[0][number];

/**
 * Completions from many runs that finish together travel in one `POST /v1/runs/complete`. A completion goes
 * out on the next turn of the event loop while fewer than MAX_IN_FLIGHT requests are out; beyond that it
 * waits for one of them to return and goes with everything else that finished meanwhile (up to 200 per
 * request). An idle worker's completion waits for nothing; a busy one sends batches, not one per run.
 */
const MAX_IN_FLIGHT = 2;
const MAX_BATCH = 200;

/** The API refused the request itself (bad body, too large): resending it unchanged can never succeed. */
export function isRefusal(err: unknown): err is ApiError {
  return err instanceof ApiError && (err.status === 400 || err.status === 413 || err.status === 422);
}

/** How a completion ended: stored as sent, or refused and stored as failed with the reason instead. */
export type CompleteResult = { refused?: string };

class CompletionBatcher {
  private queue: { item: Item; resolve: (result: CompleteResult) => void; reject: (err: unknown) => void }[] =
    [];
  private scheduled = false;
  private inFlight = 0;

  constructor(private readonly client: Client) {}

  add(item: Item): Promise<CompleteResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= MAX_IN_FLIGHT) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.send();
    });
  }

  private send(): void {
    const batch = this.queue.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    this.inFlight++;
    this.sendBatch(batch).finally(() => {
      this.inFlight--;
      this.schedule();
    });
    this.schedule();
  }

  private async sendBatch(batch: typeof this.queue): Promise<void> {
    let results: { run_id: string; ok: boolean }[];
    try {
      ({ results } = await this.client.worker.completeMany(batch.map((b) => b.item)));
    } catch (err) {
      if (!isRefusal(err) || batch.length === 1) {
        if (isRefusal(err)) return this.sendAlone(batch[0]!);
        for (const { reject } of batch) reject(err);
        return;
      }
      // One bad completion must not fail the others: each goes alone, so only the bad one is refused.
      for (const entry of batch) await this.sendAlone(entry);
      return;
    }
    const byId = new Map(results.map((r) => [r.run_id, r]));
    for (const { item, resolve, reject } of batch) {
      if (byId.get(item.run_id)?.ok) resolve({});
      else reject(new LeaseLostError(item.run_id));
    }
  }

  /**
   * One completion on its own. Refused (400/413/422), the run is completed as failed with the API's reason
   * and without the refused payload, so it ends with an outcome on record instead of being retried until
   * the sweeper takes it for an infrastructure loss.
   */
  private async sendAlone({ item, resolve, reject }: (typeof this.queue)[number]): Promise<void> {
    const { run_id: runId, lease_token: leaseToken, ...completion } = item;
    try {
      await this.client.worker.complete(runId, leaseToken, completion);
      resolve({});
    } catch (err) {
      if (err instanceof ApiError && (err.code === 'lease_lost' || err.code === 'not_found'))
        return reject(new LeaseLostError(runId));
      if (!isRefusal(err)) return reject(err);
      const reason = `the API refused the completion (${err.status} ${err.code}): ${err.message}`.slice(
        0,
        2000,
      );
      try {
        await this.client.worker.complete(runId, leaseToken, {
          status: 'error',
          error: { code: 'completion_refused', message: reason },
        });
        resolve({ refused: reason });
      } catch (again) {
        reject(again instanceof ApiError && again.code === 'lease_lost' ? new LeaseLostError(runId) : again);
      }
    }
  }
}

/** The worker protocol over the typed client: 409 lease_lost (and 404) become `LeaseLostError`. */
export function createClientProtocol(options: { baseUrl: string; token: string }): WorkerProtocol {
  const client = createClient({
    baseUrl: options.baseUrl,
    token: options.token,
    timeoutMs: 30_000,
    fetch: createApiFetch(),
  });
  const fenced = async <T>(runId: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      if (err instanceof ApiError && (err.code === 'lease_lost' || err.code === 'not_found'))
        throw new LeaseLostError(runId);
      throw err;
    }
  };
  // Reads of a run's inputs: only lease_lost means the lease is gone; a 404 there is a missing input.
  const fencedInput = async <T>(runId: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'lease_lost') throw new LeaseLostError(runId);
      throw err;
    }
  };
  const completions = new CompletionBatcher(client);
  return {
    async claim(input, signal) {
      // params and steps are JSON the API validated when the template was saved; read as objects here.
      return (await client.worker.claim(input, signal)) as ClaimReply;
    },
    async heartbeat(leases) {
      const { results } = await client.worker.heartbeatMany(leases);
      return results.map((r) => ({
        run_id: r.run_id,
        ok: r.ok,
        cancel_requested: r.cancel_requested,
        lease_expires_at: r.lease_expires_at,
        code: r.error?.code,
      }));
    },
    appendEvents: (runId, leaseToken, events) =>
      fenced(runId, () => client.worker.appendEvents(runId, leaseToken, events)),
    complete: (runId, leaseToken, outcome) =>
      completions.add({ run_id: runId, lease_token: leaseToken, ...outcome }),
    release: async (runId, leaseToken, reason) => {
      await fenced(runId, () => client.worker.release(runId, leaseToken, reason));
    },
    createArtifact: (runId, leaseToken, request) =>
      fenced(runId, () => client.worker.createArtifact(runId, { lease_token: leaseToken, ...request })),
    completeArtifact: async (artifactId, leaseToken) => {
      await client.worker.completeArtifact(artifactId, leaseToken);
    },
    storeSpecDocs: async (runId, leaseToken, project, docs) =>
      (
        await fenced(runId, () =>
          client.worker.storeSpecDocs(runId, { lease_token: leaseToken, project, docs }),
        )
      ).spec_docs,
    readSpecDocs: async (runId, leaseToken, project) =>
      (await fencedInput(runId, () => client.worker.readSpecDocs(runId, leaseToken, project))).spec_docs.map(
        (d) => ({ name: d.name, content: d.content ?? '' }),
      ),
    readArtifact: (runId, leaseToken, artifactId) =>
      fencedInput(runId, () => client.worker.readArtifact(runId, leaseToken, artifactId)),
  };
}
