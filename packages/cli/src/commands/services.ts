import type { Command } from '@commander-js/extra-typings';
import { runApiProcess } from '@ocr/api';
import { runWorkerProcess } from '@ocr/worker';
import { runSweeperProcess } from '@ocr/sweeper';

/** `ocr api`, `ocr worker`, `ocr sweeper`: one process each, configured by environment variables only. */
export function registerServices(program: Command): void {
  program
    .command('api')
    .description('run the API and console (DATABASE_URL, PORT, OCR_S3_*, OCR_ADMIN_TOKEN, ...)')
    .action(() => runApiProcess());
  program
    .command('worker')
    .description('run a worker (OCR_API_URL, OCR_TOKEN, OCR_LANES, OCR_CONCURRENCY, ...)')
    .action(() => runWorkerProcess());
  program
    .command('sweeper')
    .description('run a sweeper replica (DATABASE_URL, OCR_SWEEP_INTERVAL_S, OCR_HEARTBEAT_TIMEOUT_S, ...)')
    .action(() => runSweeperProcess());
}
