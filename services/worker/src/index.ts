import { createLogger, Lifecycle, startOpsServer, type Logger } from '@ocr/runtime';
import { createClientProtocol } from './client-protocol.js';
import { loadWorkerConfig, type WorkerConfig } from './config.js';
import { createWorkerMetrics } from './metrics.js';
import { Worker } from './worker.js';

export { Worker, type WorkerDeps, type JobModeExit } from './worker.js';
export { loadWorkerConfig, WorkerConfigSchema, type WorkerConfig } from './config.js';
export { LeaseLostError, type WorkerProtocol, type ClaimedRun } from './protocol.js';
export { createClientProtocol } from './client-protocol.js';
export { ExecutorRegistry } from './executors/index.js';
export { createWorkerMetrics, type WorkerMetrics } from './metrics.js';

/** A started worker process: the worker, its ops server, and a graceful close (drain). */
export interface StartedWorker {
  worker: Worker;
  port: number;
  close(): Promise<void>;
}

/**
 * Start a worker from its config: claim loop, heartbeats, and `/healthz`, `/readyz`, `/metrics` on PORT.
 * `close()` drains within OCR_SHUTDOWN_GRACE_S (finish, else hand back) — used by `ocr worker` on SIGTERM
 * and by `ocr dev` (which passes `opsHost` 127.0.0.1: a dev stack's ops server is for this machine only).
 */
export async function startWorker(
  config: Readonly<WorkerConfig>,
  log: Logger = createLogger('worker'),
  options: { opsHost?: string } = {},
): Promise<StartedWorker> {
  const metrics = createWorkerMetrics();
  const api = createClientProtocol({ baseUrl: config.OCR_API_URL, token: config.OCR_TOKEN });
  const worker = new Worker({ api, config, log, metrics });
  const lifecycle = new Lifecycle(log);
  const ops = await startOpsServer({
    port: config.PORT,
    host: options.opsHost,
    registry: metrics.registry,
    ready: () => worker.isClaiming,
    health: () => ({
      worker_id: worker.id,
      boot_id: worker.bootId,
      running: worker.running,
      lanes: config.lanes,
    }),
  });
  lifecycle.defer('ops server', () => ops.close());
  worker.start();
  lifecycle.defer('worker', () => worker.drain(config.OCR_SHUTDOWN_GRACE_S * 1000));
  log.info(
    {
      workerId: worker.id,
      lanes: config.lanes,
      concurrency: config.OCR_CONCURRENCY,
      maxRuns: config.OCR_MAX_RUNS,
      exitWhenIdleS: config.OCR_EXIT_WHEN_IDLE_S,
      port: ops.port,
    },
    'worker started',
  );
  return { worker, port: ops.port, close: () => lifecycle.close() };
}

/**
 * `ocr worker`: config from the environment, signals handled (second signal forces exit). In job mode
 * (OCR_MAX_RUNS / OCR_EXIT_WHEN_IDLE_S) the process also exits 0 on its own once it is done.
 */
export async function runWorkerProcess(env: Record<string, string | undefined> = process.env): Promise<void> {
  const config = loadWorkerConfig(env);
  const log = createLogger('worker');
  const started = await startWorker(config, log);
  const lifecycle = new Lifecycle(log);
  lifecycle.defer('worker', () => started.close());
  // Exit before the orchestrator's grace ends: drain budget plus a little for the final requests.
  lifecycle.installSignals(config.OCR_SHUTDOWN_GRACE_S * 1000 + 5_000);
  void started.worker.exhausted.then(async (reason) => {
    log.info({ reason, claimed: started.worker.claimed }, 'job mode: done, exiting');
    await lifecycle.close();
    process.exit(0);
  });
}
