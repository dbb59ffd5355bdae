import { createLogger, Lifecycle } from '@ocr/runtime';
import { loadSweeperConfig } from './config.js';
import { startSweeper } from './start.js';

/**
 * `ocr sweeper`: the thin composition root. Configuration from the environment (a bad variable stops the
 * process with one line each), then the replica, then two-stage signals: SIGTERM stops the loop and
 * resigns leadership so another replica takes over without waiting for the lease TTL.
 */
export async function runSweeperProcess(
  env: Record<string, string | undefined> = process.env,
): Promise<void> {
  const config = loadSweeperConfig(env);
  const log = createLogger('sweeper', config.OCR_LOG_LEVEL);
  const started = await startSweeper(config, log);
  const lifecycle = new Lifecycle(log);
  lifecycle.defer('sweeper', () => started.close());
  lifecycle.installSignals(10_000);
}
