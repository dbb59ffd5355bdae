import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type Type from 'typebox';
import { LRUCache } from 'lru-cache';
import {
  claimRuns,
  findOrphanedLeases,
  getTemplate,
  registerWorker,
  releaseRun,
  sweepStaleRuns,
  type Registration,
  type HotRun,
} from '@ocr/db';
import { secretParamNames, type ClaimRequest, type ClaimResponse } from '@ocr/contracts';
import { heartbeatIntervalS } from './config.js';
import { apiError } from './errors.js';
import { runToWire, type TemplateDefinition } from './serialize.js';

const FALLBACK_POLL_MS = 1_000;
const REGISTER_EVERY_MS = 5_000;
/** Bounds of the per-process caches: worker identities and template versions a claim answers with. */
export const REGISTRATIONS_CACHED = 10_000;
export const DEFINITIONS_CACHED = 1_000;

type Claim = Type.Static<typeof ClaimRequest>;
interface CachedDefinition {
  def: TemplateDefinition;
  secretParams: string[];
}
type Answer = Type.Static<typeof ClaimResponse>;

/**
 * Claims register the worker (fleet view, liveness, restart detection) at most every few seconds per
 * worker, boot and token, not on every claim: a busy worker claims many times a second and each write is a
 * commit. A claim from another token always goes to the database, which decides whether the id is its own.
 * Least recently seen identities are forgotten first (they only cost one more registration write).
 */
class RegistrationCache {
  private readonly seen = new LRUCache<string, { boot: string; token: string; at: number }>({
    max: REGISTRATIONS_CACHED,
  });

  async register(
    workerId: string,
    bootId: string,
    tokenId: string,
    write: () => Promise<Registration>,
  ): Promise<Registration> {
    const last = this.seen.get(workerId);
    if (last && last.boot === bootId && last.token === tokenId && Date.now() - last.at < REGISTER_EVERY_MS)
      return { registered: true, previousBoot: bootId };
    const result = await write();
    if (result.registered) this.seen.set(workerId, { boot: bootId, token: tokenId, at: Date.now() });
    return result;
  }
}

/**
 * One claim, start to answer: register the worker identity (refusing one another token registered), requeue
 * the leases of its previous boot, long-poll the lanes until work arrives or `wait_ms` ends (woken by the
 * claim waiters, a fallback poll, the API closing or the claimer going away), hand back leases nobody will
 * receive, and build the answer with each run's steps. The route only validates and delegates.
 */
export class ClaimOrchestrator {
  private readonly registrations = new RegistrationCache();
  /**
   * Template versions never change: a bounded cache of their definitions (with the secret param names, read
   * from the params schema once, not per claimed run), least recently used evicted. The answer only
   * serialises them, so every run of a version shares the cached values.
   */
  private readonly definitions = new LRUCache<string, CachedDefinition>({ max: DEFINITIONS_CACHED });

  constructor(private readonly app: FastifyInstance) {}

  async claim(
    body: Claim,
    caller: { tokenId: string; gone: AbortSignal; log: FastifyBaseLogger },
  ): Promise<Answer> {
    const { app } = this;
    const started = Date.now();
    const bootId = body.boot_id ?? 'unknown';
    await this.register(body, bootId, caller);
    const stop = AbortSignal.any([caller.gone, app.closing]);
    let runs = await this.poll(body, bootId, started + (body.wait_ms ?? 0), stop);
    if (stop.aborted && runs.length > 0) {
      // Nobody will receive these leases: hand them straight back rather than strand them until a sweep.
      await Promise.all(
        runs.map((run) =>
          releaseRun(app.db, { runId: run.id, leaseToken: run.lease_token! }, 'claim_abandoned'),
        ),
      );
      caller.log.warn({ workerId: body.worker_id, runs: runs.length }, 'claimer went away: leases released');
      runs = [];
    }
    app.metrics.claimSeconds.observe((Date.now() - started) / 1000);
    return {
      heartbeat_interval_s: heartbeatIntervalS(app.config),
      heartbeat_timeout_s: app.config.OCR_HEARTBEAT_TIMEOUT_S,
      runs: await Promise.all(runs.map((run) => this.leaseOf(run))),
    };
  }

  /** Register (or refresh) the identity; a new boot of the same identity requeues its old process's leases. */
  private async register(body: Claim, bootId: string, caller: { tokenId: string; log: FastifyBaseLogger }) {
    const { app } = this;
    const { registered, previousBoot } = await this.registrations.register(
      body.worker_id,
      bootId,
      caller.tokenId,
      () =>
        registerWorker(app.db, {
          id: body.worker_id,
          boot_id: bootId,
          lanes: body.lanes,
          version: body.version ?? '',
          concurrency: body.concurrency ?? body.limit ?? 1,
          token_id: caller.tokenId,
        }),
    );
    if (!registered)
      throw apiError(
        'forbidden',
        `worker_id ${body.worker_id} is registered by another token; a token claims only as the worker identities it registered`,
      );
    if (!previousBoot || previousBoot === bootId) return;
    // The same worker id, registered by this same token, came back with a new boot: its old process is gone,
    // requeue its leases now. (Another token never gets here: previousBoot is null for it.)
    const orphans = await findOrphanedLeases(app.db, body.worker_id, bootId);
    if (orphans.length === 0) return;
    const swept = await sweepStaleRuns(app.db, orphans, undefined, 'worker_restarted');
    caller.log.warn(
      { workerId: body.worker_id, requeued: swept.length },
      'worker restarted: orphaned leases requeued',
    );
  }

  /** Claim until runs come, the deadline passes or `stop` fires; parks on the lanes' waiters in between. */
  private async poll(body: Claim, bootId: string, deadline: number, stop: AbortSignal): Promise<HotRun[]> {
    const { app } = this;
    for (;;) {
      if (app.closing.aborted) return [];
      const runs = await claimRuns(app.db, {
        workerId: body.worker_id,
        workerBoot: bootId,
        lanes: body.lanes,
        limit: body.limit ?? 1,
        leaseSeconds: app.config.OCR_HEARTBEAT_TIMEOUT_S,
        sessionId: body.session_id ?? null,
        notify: false,
      });
      if (runs.length > 0)
        app.listener.publish({
          events: runs.map((run) => ({ id: run.id, seq: run.last_seq })),
          status: runs.map((run) => run.id),
        });
      const left = deadline - Date.now();
      if (runs.length > 0 || left <= 0 || stop.aborted) return runs;
      await app.waiters.wait(body.lanes, Math.min(left, FALLBACK_POLL_MS), stop);
    }
  }

  private async leaseOf(run: HotRun): Promise<Answer['runs'][number]> {
    const { def, secretParams } = await this.definitionOf(run);
    return {
      run: runToWire(run),
      lease_token: run.lease_token!,
      lease_expires_at: run.lease_expires_at!.toISOString(),
      steps: def.steps,
      timeout_s: def.timeout_s ?? null,
      secret_params: secretParams,
    };
  }

  private async definitionOf(run: HotRun): Promise<CachedDefinition> {
    const key = `${run.template}@${run.template_version}`;
    let cached = this.definitions.get(key);
    if (!cached) {
      const template = await getTemplate(this.app.db, run.template, run.template_version);
      const def = (template?.definition as TemplateDefinition | undefined) ?? { steps: [] };
      cached = { def, secretParams: [...secretParamNames(def.params_schema)] };
      this.definitions.set(key, cached);
    }
    return cached;
  }
}
