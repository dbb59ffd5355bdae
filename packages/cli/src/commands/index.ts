import type { Command } from '@commander-js/extra-typings';
import { registerDev } from './dev.js';
import { registerMigrate } from './migrate.js';
import { registerBackup } from './backup.js';
import { registerServices } from './services.js';
import { registerClientCommands } from './client-commands.js';
import { registerMcp } from './mcp.js';
import { registerRuns } from './runs.js';
import { registerTemplates } from './templates.js';
import { registerSpecGenerate } from './spec-generate.js';
import { registerSpecValidate } from './spec-validate.js';

/** Every `ocr` command, one module each. */
export function registerCommands(program: Command): void {
  registerDev(program);
  registerServices(program);
  registerMigrate(program);
  registerBackup(program);
  registerClientCommands(program);
  registerTemplates(program);
  registerRuns(program);
  registerMcp(program);
  const spec = program
    .command('spec')
    .description(
      'Spec Kit: "spec validate DIR [--json]", "spec generate --name NAME [-f input.yaml] --out DIR"',
    );
  registerSpecValidate(spec);
  registerSpecGenerate(spec);
}
