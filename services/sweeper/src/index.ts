import { connect } from '@ocr/db';
import { createLogger, Lifecycle, startOpsServer, type Logger } from '@ocr/runtime';
import { loadSweeperConfig, type SweeperConfig } from './config.js';
import { createSweeperMetrics } from './metrics.js';
import { Sweeper } from './sweeper.js';

export { Sweeper, LEADERSHIP, type TickReport, type SweeperDeps } from './sweeper.js';
export { loadSweeperConfig, type SweeperConfig } from './config.js';
export { createSweeperMetrics, type SweeperMetrics } from './metrics.js';

export interface StartedSweeper {
  sweeper: Sweeper;
  port: number;
  close(): Promise<void>;
}

/** Start a sweeper replica: its loop, and `/healthz`, `/readyz` (leader or follower, DB reachable), `/metrics`. */
export async function startSweeper(config: Readonly<SweeperConfig>, log: Logger = createLogger('sweeper')): Promise<StartedSweeper> {
  const lifecycle = new Lifecycle(log);
  const handle = connect(config.DATABASE_URL, { max: 3, applicationName: 'ocr-sweeper', onError: (err) => log.warn({ err }, 'idle database client error') });
  lifecycle.defer('database pool', () => handle.close());
  const metrics = createSweeperMetrics();
  const sweeper = new Sweeper({ db: handle.db, config, log, metrics });
  let lastTickOk = true;
  sweeper.on('tick', () => (lastTickOk = true));
  const ops = await startOpsServer({
    port: config.PORT,
    registry: metrics.registry,
    ready: () => lastTickOk,
    health: () => ({ sweeper_id: config.OCR_SWEEPER_ID, leader: sweeper.isLeader }),
  });
  lifecycle.defer('ops server', () => ops.close());
  sweeper.start();
  lifecycle.defer('sweeper', () => sweeper.stop());
  log.info({ id: config.OCR_SWEEPER_ID, intervalS: config.OCR_SWEEP_INTERVAL_S, timeoutS: config.OCR_HEARTBEAT_TIMEOUT_S, port: ops.port }, 'sweeper started');
  return { sweeper, port: ops.port, close: () => lifecycle.close() };
}

/** `ocr sweeper`: config from the environment, graceful shutdown (resigns leadership). */
export async function runSweeperProcess(env: Record<string, string | undefined> = process.env): Promise<void> {
  const config = loadSweeperConfig(env);
  const log = createLogger('sweeper');
  const started = await startSweeper(config, log);
  const lifecycle = new Lifecycle(log);
  lifecycle.defer('sweeper', () => started.close());
  lifecycle.installSignals(10_000);
}
