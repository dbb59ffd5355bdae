import { Migrator, sql, type Migration, type MigrationProvider, type MigrationResult } from 'kysely';
import pg from 'pg';
import type { Kysely } from 'kysely';
import type { Database } from './types.js';
import * as initial from './migrations/2026-11-25T0000-initial-schema.js';
import * as workerToken from './migrations/2026-12-04T1800-worker-token.js';
import * as idempotencyFingerprint from './migrations/2026-12-04T1900-idempotency-fingerprint.js';
import * as tokenScopes from './migrations/2026-12-04T2100-token-scopes.js';
import * as timelineWithoutFkChecks from './migrations/2026-12-04T2200-timeline-without-fk-checks.js';
import * as runsSearch from './migrations/2026-12-04T2210-runs-search.js';
import * as artifactSearch from './migrations/2026-12-04T2220-artifact-search.js';
import * as recoveredRuns from './migrations/2026-12-05T0010-recovered-runs.js';
import * as runSearchTable from './migrations/2026-12-05T0400-run-search-table.js';
import * as timelineInRunRow from './migrations/2026-12-05T0400-timeline-in-run-row.js';
import * as runsIndexDiet from './migrations/2026-12-05T0800-runs-index-diet.js';
import * as stepsInRunRow from './migrations/2026-12-05T0810-steps-in-run-row.js';

/** Every migration, in order. Names are timestamps so they sort; bodies are frozen once shipped. */
const MIGRATIONS: Record<string, Migration> = {
  '2026-11-25T0000-initial-schema': initial,
  '2026-12-04T1800-worker-token': workerToken,
  '2026-12-04T1900-idempotency-fingerprint': idempotencyFingerprint,
  '2026-12-04T2100-token-scopes': tokenScopes,
  '2026-12-04T2200-timeline-without-fk-checks': timelineWithoutFkChecks,
  '2026-12-04T2210-runs-search': runsSearch,
  '2026-12-04T2220-artifact-search': artifactSearch,
  '2026-12-05T0010-recovered-runs': recoveredRuns,
  '2026-12-05T0400-run-search-table': runSearchTable,
  '2026-12-05T0400-timeline-in-run-row': timelineInRunRow,
  '2026-12-05T0800-runs-index-diet': runsIndexDiet,
  '2026-12-05T0810-steps-in-run-row': stepsInRunRow,
};

// An arbitrary constant shared by every process of this product: the advisory lock key for migrations.
const MIGRATION_LOCK_KEY = 7_261_022_001;
// Kysely's default bookkeeping table.
const MIGRATION_TABLE = 'kysely_migration';

/** The database holds an applied migration this build does not know and that is not newer than its own. */
export class UnknownMigrationError extends Error {
  readonly code = 'unknown_migration';
  constructor(readonly names: string[]) {
    super(
      `the database has applied migration(s) ${names.join(', ')} that this build does not know and that are not newer ` +
        'than its own: a shipped migration was renamed or removed (migrations are frozen; see docs/upgrade.md)',
    );
  }
}

/** What a migrate run did, and which newer migrations (from a later build) it found and left alone. */
export interface MigrateOutcome {
  results: MigrationResult[];
  /** Applied migrations newer than every migration this build knows: a rollback to an older build. */
  ahead: string[];
}

/** Names in the migration table, oldest first; empty on a fresh database. */
async function appliedMigrations(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await sql<{
    exists: boolean;
  }>`SELECT to_regclass(${MIGRATION_TABLE}) IS NOT NULL AS exists`.execute(db);
  if (!rows[0]?.exists) return [];
  const applied = await sql<{
    name: string;
  }>`SELECT name FROM ${sql.table(MIGRATION_TABLE)} ORDER BY name`.execute(db);
  return applied.rows.map((r) => r.name);
}

/**
 * The migrations to hand Kysely: this build's, plus a stand-in for each applied migration from a NEWER build.
 * Kysely refuses to run when an applied migration is missing from its list; after a rollback to an older
 * build that is the normal state, and safe because every migration is backward compatible with the previous
 * release (expand/contract, docs/upgrade.md). Stand-ins are never run (they are already applied). An unknown
 * applied migration that sorts before this build's newest is not a rollback but a renamed or removed one,
 * and stops the migration.
 */
function toleratingProvider(
  known: Record<string, Migration>,
  applied: string[],
): { provider: MigrationProvider; ahead: string[] } {
  const names = Object.keys(known).sort();
  const newest = names.at(-1) ?? '';
  const unknown = applied.filter((name) => !(name in known));
  const misplaced = unknown.filter((name) => name <= newest);
  if (misplaced.length > 0) throw new UnknownMigrationError(misplaced);
  const migrations: Record<string, Migration> = { ...known };
  for (const name of unknown) {
    migrations[name] = {
      up: async () => {
        throw new Error(
          `migration ${name} belongs to a newer build and is already applied; it cannot be run from this one`,
        );
      },
    };
  }
  return { provider: { getMigrations: async () => migrations }, ahead: unknown };
}

/**
 * Bring the schema to this build's latest version. Several processes (API replicas, `ocr migrate`, a k8s Job)
 * may call this at once: a session advisory lock held on a dedicated direct connection serialises them, and
 * the second one finds nothing left to do. Needs a session-level connection (not a transaction pooler).
 * Migrations applied by a newer build are tolerated (`ahead`), so an older build can be rolled back to.
 * `migrations` replaces this build's list (tests use it to play a newer or older build).
 */
export async function migrate(
  db: Kysely<Database>,
  url: string,
  migrations: Record<string, Migration> = MIGRATIONS,
): Promise<MigrateOutcome> {
  const lockClient = new pg.Client({ connectionString: url, application_name: 'ocr-migrate-lock' });
  await lockClient.connect();
  try {
    await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const { provider, ahead } = toleratingProvider(migrations, await appliedMigrations(db));
    const migrator = new Migrator({ db, provider, migrationTableName: MIGRATION_TABLE });
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error;
    return { results: results ?? [], ahead };
  } finally {
    await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lockClient.end();
  }
}

/** `migrate`, returning only what was applied (the API at start and the test harness need no more). */
export async function migrateToLatest(db: Kysely<Database>, url: string): Promise<MigrationResult[]> {
  return (await migrate(db, url)).results;
}

/** Names of all migrations this build knows, in order. */
export function knownMigrations(): string[] {
  return Object.keys(MIGRATIONS);
}

/** This build's migrations by name (tests extend it to play a newer build). */
export function buildMigrations(): Record<string, Migration> {
  return { ...MIGRATIONS };
}
