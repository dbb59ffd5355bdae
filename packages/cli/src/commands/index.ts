import type { Command } from '@commander-js/extra-typings';
import { registerMigrate } from './migrate.js';

/** Every `ocr` command, one module each. */
export function registerCommands(program: Command): void {
  registerMigrate(program);
}
