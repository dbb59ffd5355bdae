import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './types.js';

/**
 * Logical backups: every table of the product's schema as newline-delimited JSON, taken in one REPEATABLE
 * READ snapshot (consistent while the system runs), and restored into a database that `ocr migrate` has
 * brought to the same migrations. Rows travel as PostgreSQL's own `row_to_json` text and go back through
 * `json_populate_recordset`, so no value (a bigint, a timestamp, a bytea) is ever re-encoded by JavaScript.
 * It needs no pg_dump matching the server's major version, and the restore refuses to mix versions.
 */

/** The first line of a backup. */
export interface BackupHeader {
  format: 'ocr-backup';
  version: 1;
  created_at: string;
  /** Applied migrations of the source, in order: the restore target must have exactly these. */
  migrations: string[];
  /** Tables in restore order (referenced before referencing). */
  tables: string[];
}

/** A restore that cannot proceed; nothing was written. */
export class RestoreRefusedError extends Error {
  readonly code = 'restore_refused';
}

const ROWS_PER_FETCH = 1000;
const ROWS_PER_INSERT = 1000;
// Kysely's bookkeeping: the target's own migrations are compared with the header, never restored.
// `run_search` is derived: restoring `runs` rebuilds it (its insert trigger copies the search columns each
// run row carries), so it is neither dumped nor restored (restored as well, its rows would collide).
const SKIPPED = new Set(['kysely_migration', 'kysely_migration_lock', 'run_search']);

type Tx = Transaction<Database> | Kysely<Database>;

/** Public tables, referenced before referencing (self-references ignored; rows keep creation order). */
async function tablesInOrder(db: Tx): Promise<string[]> {
  const { rows: tables } = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname`.execute(db);
  const { rows: edges } = await sql<{ child: string; parent: string }>`
    SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
    WHERE c.contype = 'f' AND n.nspname = 'public' AND c.conrelid <> c.confrelid`.execute(db);
  const names = tables.map((t) => t.name).filter((n) => !SKIPPED.has(n));
  const ordered: string[] = [];
  const visit = (name: string, path: Set<string>): void => {
    if (ordered.includes(name) || path.has(name)) return;
    path.add(name);
    for (const e of edges) if (e.child === name && names.includes(e.parent)) visit(e.parent, path);
    ordered.push(name);
  };
  for (const name of names) visit(name, new Set());
  return ordered;
}

async function appliedMigrations(db: Tx): Promise<string[]> {
  const { rows } = await sql<{
    exists: boolean;
  }>`SELECT to_regclass('kysely_migration') IS NOT NULL AS exists`.execute(db);
  if (!rows[0]?.exists) return [];
  return (await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(db)).rows.map(
    (r) => r.name,
  );
}

/** Creation order where the table has it (a retry comes after the run it retries), else the table's order. */
async function orderBy(db: Tx, table: string): Promise<string> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name = ${table} AND column_name = 'created_at'`.execute(db);
  return rows[0]!.n > 0 ? 'ORDER BY created_at' : '';
}

/**
 * Write a backup, one line at a time: the header, then per table a `{"table": …}` line followed by one line
 * per row. Returns the header and how many rows each table had.
 */
export async function exportDatabase(
  db: Kysely<Database>,
  write: (line: string) => Promise<void>,
): Promise<{ header: BackupHeader; rows: Record<string, number> }> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const tables = await tablesInOrder(trx);
      const header: BackupHeader = {
        format: 'ocr-backup',
        version: 1,
        created_at: new Date().toISOString(),
        migrations: await appliedMigrations(trx),
        tables,
      };
      await write(JSON.stringify(header));
      const counts: Record<string, number> = {};
      for (const table of tables) {
        await write(JSON.stringify({ table }));
        counts[table] = 0;
        await sql`DECLARE ocr_backup NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS row FROM ${sql.table(table)} t ${sql.raw(await orderBy(trx, table))}`.execute(
          trx,
        );
        for (;;) {
          const { rows } = await sql<{
            row: string;
          }>`FETCH ${sql.raw(String(ROWS_PER_FETCH))} FROM ocr_backup`.execute(trx);
          for (const r of rows) await write(r.row);
          counts[table] += rows.length;
          if (rows.length < ROWS_PER_FETCH) break;
        }
        await sql`CLOSE ocr_backup`.execute(trx);
      }
      return { header, rows: counts };
    });
}

/**
 * Restore a backup into an empty database that has exactly the backup's migrations applied (run `ocr
 * migrate` with the same or a newer build first: a newer one's extra migrations are refused, since their
 * columns might need data the backup lacks). One transaction: all or nothing.
 */
export async function importDatabase(
  db: Kysely<Database>,
  lines: AsyncIterable<string>,
): Promise<{ header: BackupHeader; rows: Record<string, number> }> {
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  let header: BackupHeader;
  try {
    header = JSON.parse(first.done ? '' : first.value) as BackupHeader;
  } catch {
    throw new RestoreRefusedError('not an ocr backup: the first line is not JSON');
  }
  if (header.format !== 'ocr-backup' || header.version !== 1)
    throw new RestoreRefusedError('not an ocr backup (format/version)');
  return db.transaction().execute(async (trx) => {
    const applied = await appliedMigrations(trx);
    if (JSON.stringify(applied) !== JSON.stringify(header.migrations)) {
      throw new RestoreRefusedError(
        `the target's migrations differ from the backup's: run \`ocr migrate\` with the build that took it on an empty database ` +
          `(backup: ${header.migrations.at(-1) ?? 'none'}, target: ${applied.at(-1) ?? 'none'})`,
      );
    }
    const tables = await tablesInOrder(trx);
    for (const table of header.tables) {
      if (!tables.includes(table)) throw new RestoreRefusedError(`the target has no table ${table}`);
      const { rows } = await sql<{
        any: boolean;
      }>`SELECT EXISTS (SELECT 1 FROM ${sql.table(table)}) AS any`.execute(trx);
      if (rows[0]!.any)
        throw new RestoreRefusedError(
          `the target is not empty (${table} has rows): restore into a new database`,
        );
    }
    const counts: Record<string, number> = {};
    let table: string | undefined;
    let batch: string[] = [];
    const flush = async () => {
      if (!table || batch.length === 0) return;
      // Only the keys present in the rows are inserted, so columns the backup lacks keep their defaults.
      const keys = Object.keys(JSON.parse(batch[0]!) as object);
      const columns = sql.join(keys.map((k) => sql.ref(k)));
      await sql`INSERT INTO ${sql.table(table)} (${columns})
        SELECT ${columns} FROM json_populate_recordset(NULL::${sql.table(table)}, ${`[${batch.join(',')}]`}::json)`.execute(
        trx,
      );
      counts[table] = (counts[table] ?? 0) + batch.length;
      batch = [];
    };
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      const line = next.value;
      if (line.startsWith('{"table":')) {
        await flush();
        table = (JSON.parse(line) as { table: string }).table;
        if (!header.tables.includes(table))
          throw new RestoreRefusedError(`table ${table} is not in the backup's header`);
        counts[table] = 0;
        continue;
      }
      if (!table) throw new RestoreRefusedError('a row before any table line');
      if (line.trim() === '') continue;
      batch.push(line);
      if (batch.length >= ROWS_PER_INSERT) await flush();
    }
    await flush();
    return { header, rows: counts };
  });
}
