import { sql, type Kysely } from 'kysely';
import type { Database, RunEventRow } from '../types.js';
import { PREPARED } from '../connect.js';

/**
 * The statements of the API's live run feeds (services/api/src/realtime): a feed reads a followed run's
 * events after its cursor (a subscriber's backlog, a hint from another replica, the fallback tick), and the
 * tick first asks which followed runs have anything new at all.
 *
 * Both are prepared (`PREPARED`): a read through the `run_timeline` view (rows UNION ALL the folded prefix)
 * spent about 0.45 ms planning and 0.06 ms executing, and 1,000 subscribers joining, or a tick over 100 feeds,
 * run it that many times at once. They name their columns, so a column added to `run_events` or `runs` while
 * an API holds them prepared changes nothing (see prepared-hot-statements.integration.test.ts).
 */

/**
 * The run's events with seq > `afterSeq`, in seq order, at most `limit`: exactly the rows
 * `readEvents(db, { runId, afterSeq, limit })` returns (no level or text filters).
 */
export async function readFeedEvents(
  db: Kysely<Database>,
  runId: string,
  afterSeq: number,
  limit: number,
): Promise<RunEventRow[]> {
  const { rows } = await sql<RunEventRow>`${sql.raw(PREPARED)}
    SELECT run_id, seq, attempt, attempt_seq, ts, level, type, step, message, data
    FROM run_timeline
    WHERE run_id = ${runId}::uuid AND seq > ${afterSeq}::bigint
    ORDER BY seq
    LIMIT ${limit}::bigint
  `.execute(db);
  return rows;
}

/**
 * The newest seq of each of these runs (`runs.last_seq`; runs that do not exist are left out). Every writer
 * of events advances `last_seq` in the statement that stores them, so a feed whose cursor is at a run's
 * `last_seq` has nothing to read: the fallback tick reads only feeds that are behind.
 */
export async function lastSeqs(db: Kysely<Database>, runIds: string[]): Promise<Map<string, number>> {
  if (runIds.length === 0) return new Map();
  const { rows } = await sql<{ id: string; last_seq: number }>`${sql.raw(PREPARED)}
    SELECT id, last_seq FROM runs WHERE id = ANY(${runIds}::uuid[])
  `.execute(db);
  return new Map(rows.map((r) => [r.id, Number(r.last_seq)]));
}
