import { Command } from '@commander-js/extra-typings';
import { ConfigError } from '@ocr/runtime';
import { registerCommands } from './commands/index.js';
import { errorLine, exitCodeFor } from './exit-codes.js';

const program = new Command('ocr')
  .description('Ops Control Room: queue, workers, sweeper and console for operational runs')
  .version('0.1.0')
  .showHelpAfterError();

registerCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    // One clear line per bad variable, no stack trace.
    for (const problem of err.problems) process.stderr.write(`ocr: config: ${problem}\n`);
  } else if (err instanceof Error && err.message === '') {
    // A command that printed its own problems already (one line each).
  } else {
    process.stderr.write(`ocr: ${errorLine(err)}\n`);
  }
  process.exit(exitCodeFor(err));
});
