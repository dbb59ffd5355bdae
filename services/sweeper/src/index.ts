export { createSweeper, Sweeper, LEADERSHIP, type TickReport, type SweeperDeps } from './sweeper.js';
export { startSweeper, type StartedSweeper } from './start.js';
export { runSweeperProcess } from './main.js';
export { loadSweeperConfig, SweeperConfigSchema, type SweeperConfig } from './config.js';
export { LeaderLease, type MonotonicClock } from './leader-lease.js';
export { WarmUpGate } from './warm-up.js';
export { createSweeperMetrics, type SweeperMetrics } from './metrics.js';
export { Retention, s3ObjectRemover, type ObjectRemover, type PruneReport } from './retention.js';
