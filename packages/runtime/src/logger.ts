import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'lease_token',
  '*.lease_token',
  'leaseToken',
  '*.leaseToken',
  'req.headers.authorization',
  'headers.authorization',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'DATABASE_URL',
  '*.DATABASE_URL',
];

/** Build the process logger: JSON lines, secrets redacted, `service` bound on every line. */
export function createLogger(
  service: string,
  level = process.env.OCR_LOG_LEVEL ?? 'info',
  options: LoggerOptions = {},
): Logger {
  return pino({
    level,
    base: { service },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
  });
}
