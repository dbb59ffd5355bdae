import { Registry, collectDefaultMetrics } from 'prom-client';
import { connect } from '@ocr/db';
import { createLogger, Lifecycle, startOpsServer, type Logger } from '@ocr/runtime';
import type { SweeperConfig } from './config.js';
import { createSweeper, type Sweeper } from './sweeper.js';
import { s3ObjectRemover } from './retention.js';

/** A running sweeper replica. */
export interface StartedSweeper {
  sweeper: Sweeper;
  /** The ops server's port (useful when PORT=0). */
  port: number;
  /** Stop the loop, resign leadership, close the ops server and the pool (LIFO). */
  close(): Promise<void>;
}

/**
 * Start a sweeper replica: its own pool, its loop, and `/healthz`, `/readyz` (ready while the database
 * answers, leader or follower) and `/metrics` on PORT (on `opsHost`, default 0.0.0.0). Used by `ocr sweeper`
 * and `ocr dev`.
 */
export async function startSweeper(
  config: Readonly<SweeperConfig>,
  log: Logger = createLogger('sweeper', config.OCR_LOG_LEVEL),
  options: { opsHost?: string } = {},
): Promise<StartedSweeper> {
  const lifecycle = new Lifecycle(log);
  let sweeper: Sweeper | undefined;
  // An idle client dying means the server went away: the sweeper treats that like a failed tick.
  const handle = connect(config.DATABASE_URL, {
    max: 3,
    applicationName: 'ocr-sweeper',
    onError: (err) => {
      log.warn({ err }, 'idle database client error');
      sweeper?.noteDatabaseTrouble(err);
    },
  });
  lifecycle.defer('database pool', () => handle.close());
  try {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'ocr_sweeper_process_' });
    sweeper = createSweeper({ db: handle.db, log, config, registry, removeObjects: s3ObjectRemover(config) });
    const running = sweeper;
    const ops = await startOpsServer({
      port: config.PORT,
      host: options.opsHost,
      registry,
      ready: () => running.last?.reachable ?? false,
      // `sweeping`: the leader is judging heartbeats (its warm-up over), so a lost worker's runs are rescued now.
      health: () => ({
        sweeper_id: config.OCR_SWEEPER_ID,
        leader: running.isLeader,
        sweeping: running.isLeader && running.last?.leader === true && !running.last.warmingUp,
      }),
    });
    lifecycle.defer('ops server', () => ops.close());
    running.start();
    lifecycle.defer('sweeper', () => running.stop());
    log.info(
      {
        id: config.OCR_SWEEPER_ID,
        intervalS: config.OCR_SWEEP_INTERVAL_S,
        timeoutS: config.OCR_HEARTBEAT_TIMEOUT_S,
        ttlS: config.leaderTtlS,
        retentionDays: config.OCR_RETENTION_DAYS,
        retentionLaneDays: config.retentionLaneDays,
        port: ops.port,
      },
      'sweeper started',
    );
    return { sweeper: running, port: ops.port, close: () => lifecycle.close() };
  } catch (err) {
    await lifecycle.close();
    throw err;
  }
}
