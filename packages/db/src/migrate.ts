import { Migrator, type Migration, type MigrationProvider, type MigrationResult } from 'kysely';
import pg from 'pg';
import type { Kysely } from 'kysely';
import type { Database } from './types.js';
import * as initial from './migrations/2026-11-25T0000-initial-schema.js';
import * as workerToken from './migrations/2026-12-04T1800-worker-token.js';

/** Every migration, in order. Names are timestamps so they sort; bodies are frozen once shipped. */
const MIGRATIONS: Record<string, Migration> = {
  '2026-11-25T0000-initial-schema': initial,
  '2026-12-04T1800-worker-token': workerToken,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

// An arbitrary constant shared by every process of this product: the advisory lock key for migrations.
const MIGRATION_LOCK_KEY = 7_261_022_001;

/**
 * Bring the schema to the latest version. Several processes (API replicas, `ocr migrate`, a k8s Job) may
 * call this at once: a session advisory lock held on a dedicated direct connection serialises them, and
 * the second one finds nothing left to do. Needs a session-level connection (not a transaction pooler).
 */
export async function migrateToLatest(db: Kysely<Database>, url: string): Promise<MigrationResult[]> {
  const lockClient = new pg.Client({ connectionString: url, application_name: 'ocr-migrate-lock' });
  await lockClient.connect();
  try {
    await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const migrator = new Migrator({ db, provider });
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error;
    return results ?? [];
  } finally {
    await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lockClient.end();
  }
}

/** Names of all migrations this build knows, in order. */
export function knownMigrations(): string[] {
  return Object.keys(MIGRATIONS);
}
