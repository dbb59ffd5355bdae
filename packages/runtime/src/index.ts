export { OcrError, ConfigError, isOcrError } from './errors.js';
export { loadConfig, type ConfigRule } from './config.js';
export { createLogger, REDACT_PATHS, type Logger } from './logger.js';
export { lazyChild } from './lazy-logger.js';
export { Lifecycle, type Releaser } from './lifecycle.js';
export { Loop } from './loop.js';
export { startOpsServer, type OpsServerOptions } from './ops-server.js';
export { jitter, sleep } from './time.js';
export { Backoff, retry, type BackoffOptions, type RetryOptions } from './retry.js';
