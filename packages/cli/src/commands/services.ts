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
    .option(
      '--max-runs <n>',
      'job mode: claim at most N runs in total, exit 0 when they are done (same as OCR_MAX_RUNS)',
    )
    .option(
      '--exit-when-idle <seconds>',
      'job mode: exit 0 after this long with no run in progress (same as OCR_EXIT_WHEN_IDLE_S)',
    )
    // The flags become the variables, so the worker's config schema validates both the same way.
    .action(async (options) =>
      (await import('@ocr/worker')).runWorkerProcess({
        ...process.env,
        ...(options.maxRuns !== undefined && { OCR_MAX_RUNS: options.maxRuns }),
        ...(options.exitWhenIdle !== undefined && { OCR_EXIT_WHEN_IDLE_S: options.exitWhenIdle }),
      }),
    );
  program
    .command('sweeper')
    .description('run a sweeper replica (DATABASE_URL, OCR_SWEEP_INTERVAL_S, OCR_HEARTBEAT_TIMEOUT_S, ...)')
    .action(async () => (await import('@ocr/sweeper')).runSweeperProcess());
}
