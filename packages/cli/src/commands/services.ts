import type { Command } from '@commander-js/extra-typings';

/** `ocr api`, `ocr worker`, `ocr sweeper`: one process each, configured by environment variables only (each service is loaded only by its own command). */
export function registerServices(program: Command): void {
  program
    .command('api')
    .description('run the API and console (DATABASE_URL, PORT, OCR_S3_*, OCR_ADMIN_TOKEN, ...)')
    .action(async () => (await import('@ocr/api')).runApiProcess());
  program
    .command('worker')
    .description('run a worker (OCR_API_URL, OCR_TOKEN, OCR_LANES, OCR_CONCURRENCY, ...)')
    .action(async () => (await import('@ocr/worker')).runWorkerProcess());
  program
    .command('sweeper')
    .description('run a sweeper replica (DATABASE_URL, OCR_SWEEP_INTERVAL_S, OCR_HEARTBEAT_TIMEOUT_S, ...)')
    .action(async () => (await import('@ocr/sweeper')).runSweeperProcess());
}
