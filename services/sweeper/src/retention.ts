import { performance } from 'node:perf_hooks';
import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import type { Kysely } from 'kysely';
import { createS3Client } from '@ocr/runtime/s3';
import {
  deleteFinishedRuns,
  deleteRunEventsBatch,
  deleteStoredArtifactRows,
  findExpiredRuns,
  type Database,
  type ExpiredRun,
} from '@ocr/db';
import type { Logger } from '@ocr/runtime';
import type { SweeperConfig } from './config.js';
import type { SweeperMetrics } from './metrics.js';

/** Deletes objects from the artifact bucket; throws when any key could not be deleted. */
export type ObjectRemover = (keys: string[]) => Promise<void>;

/** What one retention pass deleted. */
export interface PruneReport {
  runs: number;
  events: number;
  objects: number;
  batches: number;
  /** Expired runs left alone because their objects cannot be deleted (no bucket configured, or it failed). */
  skipped: number;
}

/** The artifact bucket's DeleteObjects (at most 1000 keys a request), or undefined when no bucket is configured. */
export function s3ObjectRemover(config: Readonly<SweeperConfig>): ObjectRemover | undefined {
  const bucket = config.OCR_S3_BUCKET;
  const client = createS3Client(config);
  if (!client || !bucket) return undefined;
  return async (keys) => {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      const out = await client.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      // A missing object counts as deleted (S3 says so too); anything else keeps the rows for the next pass.
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0)
        throw new Error(
          `could not delete ${failed.length} object(s), first ${failed[0]!.Key}: ${failed[0]!.Code}`,
        );
    }
  };
}

/**
 * Retention: the leader deletes finished runs older than OCR_RETENTION_DAYS (per-lane overrides) with their
 * events, steps and artifacts. Work goes in small batches, each its own short transaction, so no lock is held
 * long and claims (which touch only queued runs) never wait: a page of at most OCR_RETENTION_BATCH_RUNS
 * runs; their events OCR_RETENTION_BATCH_EVENTS at a time; their S3 objects; then the run rows. Objects go
 * before rows, so a failure never leaves an object nothing points to. Each batch is logged and counted.
 */
export class Retention {
  private lastPassAt = -Infinity;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      log: Logger;
      config: Readonly<SweeperConfig>;
      metrics: SweeperMetrics;
      removeObjects?: ObjectRemover;
      clock: () => number;
    },
  ) {}

  get enabled(): boolean {
    const { config } = this.deps;
    return config.OCR_RETENTION_DAYS > 0 || Object.values(config.retentionLaneDays).some((d) => d > 0);
  }

  /** Whether a pass is due (at most one per OCR_RETENTION_INTERVAL_S). */
  get due(): boolean {
    return (
      this.enabled && this.deps.clock() - this.lastPassAt >= this.deps.config.OCR_RETENTION_INTERVAL_S * 1000
    );
  }

  /**
   * One pass, page after page until nothing has expired, or until `budgetMs` is spent: the rest waits for the
   * next tick (the pass stays due), so a large backlog never delays the rescue of stale runs for long.
   * `mayAct` is asked before every write (the sweeper's leadership check).
   */
  async pass(mayAct: () => Promise<boolean>, budgetMs: number, signal?: AbortSignal): Promise<PruneReport> {
    const { config, db, clock } = this.deps;
    const deadline = clock() + budgetMs;
    const report: PruneReport = { runs: 0, events: 0, objects: 0, batches: 0, skipped: 0 };
    const policy = { days: config.OCR_RETENTION_DAYS, lanes: config.retentionLaneDays };
    const skip = new Set<string>();
    const stop = async () => signal?.aborted || clock() > deadline || !(await mayAct());
    for (;;) {
      if (await stop()) return report;
      const page = (
        await findExpiredRuns(db, { policy, limit: config.OCR_RETENTION_BATCH_RUNS + skip.size })
      ).filter((r) => !skip.has(r.id));
      if (page.length === 0) {
        // Caught up: the next pass is one interval away.
        this.lastPassAt = clock();
        return report;
      }
      const deletable = await this.deleteObjects(
        page.slice(0, config.OCR_RETENTION_BATCH_RUNS),
        report,
        skip,
      );
      if (deletable.length === 0) continue;
      const ids = deletable.map((r) => r.id);
      for (;;) {
        if (await stop()) return report;
        const started = performance.now();
        const events = await deleteRunEventsBatch(db, {
          runIds: ids,
          limit: config.OCR_RETENTION_BATCH_EVENTS,
        });
        if (events === 0) break;
        this.batchDone(report, { runs: 0, events, objects: 0 }, started);
        if (events < config.OCR_RETENTION_BATCH_EVENTS) break;
      }
      if (!(await mayAct())) return report;
      const started = performance.now();
      const deleted = await deleteFinishedRuns(db, ids);
      this.batchDone(report, { runs: deleted.length, events: 0, objects: 0 }, started);
    }
  }

  /** Delete the page's S3 objects; returns the runs whose rows may go now (others are skipped this pass). */
  private async deleteObjects(
    page: ExpiredRun[],
    report: PruneReport,
    skip: Set<string>,
  ): Promise<ExpiredRun[]> {
    const { log, removeObjects } = this.deps;
    const withObjects = page.filter((r) => r.object_keys.length > 0);
    if (withObjects.length === 0) return page;
    const keys = withObjects.flatMap((r) => r.object_keys);
    if (!removeObjects) {
      log.warn(
        { runs: withObjects.length },
        'retention: expired runs have S3 artifacts but no bucket is configured (OCR_S3_*); keeping them',
      );
    } else {
      const started = performance.now();
      try {
        await removeObjects(keys);
        await deleteStoredArtifactRows(
          this.deps.db,
          withObjects.map((r) => r.id),
        );
        this.batchDone(report, { runs: 0, events: 0, objects: keys.length }, started);
        return page;
      } catch (err) {
        log.warn(
          { err, runs: withObjects.length },
          'retention: could not delete artifact objects; keeping their runs until the next pass',
        );
      }
    }
    for (const r of withObjects) skip.add(r.id);
    report.skipped += withObjects.length;
    return page.filter((r) => r.object_keys.length === 0);
  }

  private batchDone(
    report: PruneReport,
    batch: { runs: number; events: number; objects: number },
    started: number,
  ): void {
    const { log, metrics } = this.deps;
    const ms = Math.round(performance.now() - started);
    report.batches++;
    report.runs += batch.runs;
    report.events += batch.events;
    report.objects += batch.objects;
    for (const kind of ['runs', 'events', 'objects'] as const)
      if (batch[kind] > 0) metrics.retentionDeleted.inc({ kind }, batch[kind]);
    metrics.retentionBatchSeconds.observe(ms / 1000);
    log.info({ ...batch, ms }, 'retention batch deleted');
  }
}
