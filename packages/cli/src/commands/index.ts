import type { Command } from '@commander-js/extra-typings';
import { registerDev } from './dev.js';
import { registerMigrate } from './migrate.js';
import { registerServices } from './services.js';
import { registerClientCommands } from './client-commands.js';

/** Every `ocr` command, one module each. */
export function registerCommands(program: Command): void {
  registerDev(program);
  registerServices(program);
  registerMigrate(program);
  registerClientCommands(program);
}
