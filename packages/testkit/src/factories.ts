import type { Kysely } from 'kysely';
import { enqueueRuns, type Database, type EnqueueInput, type RunRow } from '@ocr/db';

/** Enqueue one run with sensible defaults; any field can be overridden. */
export async function makeRun(db: Kysely<Database>, overrides: Partial<EnqueueInput> = {}): Promise<RunRow> {
  const [run] = await makeRuns(db, 1, overrides);
  return run!;
}

/** Enqueue `count` runs in one statement (batches of 1,000). */
export async function makeRuns(
  db: Kysely<Database>,
  count: number,
  overrides: Partial<EnqueueInput> = {},
): Promise<RunRow[]> {
  const runs: RunRow[] = [];
  for (let offset = 0; offset < count; offset += 1000) {
    const batch = Array.from({ length: Math.min(1000, count - offset) }, () => ({
      template: 'test',
      template_version: 1,
      lane: 'A',
      params: {},
      ...overrides,
    }));
    runs.push(...(await enqueueRuns(db, batch)).map((r) => r.run));
  }
  return runs;
}
