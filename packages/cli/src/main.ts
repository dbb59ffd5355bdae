import { Command } from '@commander-js/extra-typings';
import { ConfigError } from '@ocr/runtime';
import { registerCommands } from './commands/index.js';

const program = new Command('ocr')
  .description('Ops Control Room: queue, workers, sweeper and console for operational runs')
  .version('0.1.0')
  .showHelpAfterError();

registerCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    // One clear line per bad variable, no stack trace.
    for (const problem of err.problems) process.stderr.write(`ocr: config: ${problem}\n`);
  } else {
    process.stderr.write(`ocr: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
});
