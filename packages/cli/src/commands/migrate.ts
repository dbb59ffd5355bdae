import type { Command } from '@commander-js/extra-typings';
import Type from 'typebox';
import { createLogger, loadConfig } from '@ocr/runtime';

const MigrateConfig = Type.Object({
  DATABASE_URL: Type.String({
    minLength: 1,
    description: 'PostgreSQL URL (a direct connection, not a transaction pooler)',
  }),
});

/** `ocr migrate`: bring the schema to the latest version (advisory-locked; safe beside running APIs). */
export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply database migrations (DATABASE_URL)')
    .action(async () => {
      const config = loadConfig(MigrateConfig);
      const log = createLogger('migrate');
      // Loaded here, not with every `ocr` start (the worker never needs the database driver).
      const { connect, migrate } = await import('@ocr/db');
      const { db, close } = connect(config.DATABASE_URL, { max: 2, applicationName: 'ocr-migrate' });
      try {
        const { results, ahead } = await migrate(db, config.DATABASE_URL);
        for (const result of results)
          log.info({ migration: result.migrationName, status: result.status }, 'migration');
        // A rollback to an older build: the newer schema is backward compatible (expand/contract), so go on.
        if (ahead.length > 0)
          log.warn({ ahead }, 'database has migrations from a newer build; leaving them in place');
        log.info(
          { applied: results.length },
          results.length ? 'schema migrated' : 'schema already up to date',
        );
      } finally {
        await close();
      }
    });
}
