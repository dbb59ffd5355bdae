import { sql, type Kysely } from 'kysely';
import type { Database } from '../types.js';
import { PREPARED } from '../connect.js';
import { EVENTS_CHANNEL, STATUS_CHANNEL, notifiedCte, type NotifyOption } from './channels.js';
import { hotRunColumns, type HotRun } from './run-columns.js';
import { foldable, isFolded } from './timeline.js';

export interface ClaimInput {
  workerId: string;
  /** Boot nonce of the worker process, stored with the lease. */
  workerBoot?: string;
  lanes: string[];
  limit: number;
  /** Lease length; the sweeper judges staleness by heartbeat age, this is informative for workers. */
  leaseSeconds: number;
  sessionId?: string | null;
  /** Injectable clock for tests; production always uses the database clock. */
  now?: Date;
}

/**
 * Claim up to `limit` runs from `lanes`, highest priority first, then oldest `run_at`.
 *
 * Locking argument:
 * 1. Lanes with a `max_concurrency` are locked `FOR UPDATE` (in name order, so two claimers never
 *    deadlock) in their own statement. Claimers of a capped lane are thereby serialised, and because the
 *    next statement takes a fresh snapshot after the lock was granted, its count of running runs includes
 *    every claim committed before ours: the cap holds under any number of concurrent claimers.
 * 2. Candidate runs are picked per lane with `FOR UPDATE SKIP LOCKED`, so concurrent claimers never wait
 *    on, or double-claim, the same row. The lock re-checks `status = 'queued'` on the newest row version, and
 *    the UPDATE then finds the rows it locked by primary key only: see PLAN-STABLE in fence.ts.
 * Paused lanes are skipped. Each claim mints a fresh lease token and bumps `attempt`; a `claimed` event is
 * appended in the same statement so the timeline never misses it: folded into the run row while the run's
 * timeline is (timeline.ts), else a `run_events` row.
 *
 * Fast path: when none of the requested lanes has a cap (the common case), step 1 has nothing to lock, so
 * the claim is one statement in its own implicit transaction: one round trip instead of four (BEGIN, lock,
 * claim, COMMIT). The statement itself checks that no requested lane is capped and claims nothing
 * otherwise, so a lane capped meanwhile always goes through the locked path. A cap set while a fast claim
 * is in flight applies to the claims that start after it commits.
 *
 * Both statements are prepared (`PREPARED`): parsed once per connection. Their text depends only on the mode
 * and on which options are set (a handful of variants), and the runs come back as an explicit column list
 * (`HotRun`), so a column added to `runs` leaves them valid. Postgres still plans each claim for its values
 * (a generic plan guesses ten lanes and a tenth of the queue per LIMIT, so it looks dearer and is not kept).
 * Either plan reads only the runs it claims, whatever the statistics say (PLAN-STABLE, fence.ts); a generic
 * plan seen scanning the whole queue earlier came from the status re-check the UPDATE no longer makes.
 */
export async function claimRuns(db: Kysely<Database>, input: ClaimInput & NotifyOption): Promise<HotRun[]> {
  if (input.lanes.length === 0 || input.limit <= 0) return [];
  const fast = await claimStatement(db, input, 'uncapped');
  if (fast.cappedLanes === 0) return fast.runs;
  return db.transaction().execute(async (trx) => {
    await sql`${sql.raw(PREPARED)}
      SELECT name FROM lanes
      WHERE name = ANY(${input.lanes}::text[]) AND max_concurrency IS NOT NULL AND NOT paused
      ORDER BY name FOR UPDATE
    `.execute(trx);
    return (await claimStatement(trx, input, 'locked')).runs;
  });
}

/**
 * The claim itself. `uncapped` claims only when none of the lanes has a cap (and says how many do);
 * `locked` runs after the capped lanes were locked and honours their caps.
 */
async function claimStatement(
  db: Kysely<Database>,
  input: ClaimInput & NotifyOption,
  mode: 'uncapped' | 'locked',
): Promise<{ runs: HotRun[]; cappedLanes: number }> {
  const now = input.now ? sql`${input.now.toISOString()}::timestamptz` : sql`now()`;
  const sessionFilter = input.sessionId ? sql`AND r.session_id = ${input.sessionId}::uuid` : sql``;
  const guard = mode === 'uncapped' ? sql`AND (SELECT n FROM capped) = 0` : sql``;
  const notified = notifiedCte(
    input,
    sql`SELECT count(pg_notify(${EVENTS_CHANNEL}, id || ':' || last_seq)) + count(pg_notify(${STATUS_CHANNEL}, id::text)) AS n FROM claimed`,
  );
  const { rows } = await sql<HotRun & { capped_lanes: number; folded: boolean }>`${sql.raw(PREPARED)}
    WITH capped AS (
      SELECT count(*)::int AS n FROM lanes
      WHERE name = ANY(${input.lanes}::text[]) AND max_concurrency IS NOT NULL AND NOT paused
    ),
    slots AS (
      SELECT l.name,
             CASE WHEN l.max_concurrency IS NULL THEN ${input.limit}::int
                  ELSE greatest(l.max_concurrency - (
                    SELECT count(*) FROM runs c WHERE c.lane = l.name AND c.status = 'running'), 0)::int
             END AS free
      FROM lanes l
      WHERE l.name = ANY(${input.lanes}::text[]) AND NOT l.paused ${guard}
    ),
    picked AS (
      SELECT c.id FROM slots s
      CROSS JOIN LATERAL (
        SELECT r.id, r.priority, r.run_at FROM runs r
        WHERE r.lane = s.name AND r.status = 'queued' AND r.run_at <= ${now} ${sessionFilter}
        ORDER BY r.priority DESC, r.run_at, r.id
        LIMIT least(s.free, ${input.limit}::int)
        FOR UPDATE SKIP LOCKED
      ) c
      ORDER BY c.priority DESC, c.run_at, c.id
      LIMIT ${input.limit}::int
    ),
    claimed AS (
      UPDATE runs r SET
        status = 'running',
        attempt = r.attempt + 1,
        lease_token = gen_random_uuid(),
        worker_id = ${input.workerId},
        worker_boot = ${input.workerBoot ?? null},
        started_at = COALESCE(r.started_at, ${now}),
        heartbeat_at = date_trunc('milliseconds', ${now}),
        lease_expires_at = ${now} + make_interval(secs => ${input.leaseSeconds}),
        last_seq = r.last_seq + 1,
        -- The claimed event goes into the run row while the run's timeline is wholly folded and small.
        timeline = CASE WHEN ${foldable('r', sql`1`, sql`300 + 2 * octet_length(${input.workerId}::text)`)}
          THEN r.timeline || ROW(r.last_seq + 1, r.attempt + 1, NULL, now(), 'info', 'claimed', NULL,
            'claimed by ' || ${input.workerId}::text,
            jsonb_build_object('worker_id', ${input.workerId}::text, 'attempt', r.attempt + 1))::run_timeline_event
          ELSE r.timeline END
      FROM picked
      WHERE r.id = picked.id
      RETURNING ${hotRunColumns('r')}, ${isFolded('r')} AS folded
    ),
    events AS (
      INSERT INTO run_events (run_id, seq, attempt, level, type, message, data)
      SELECT id, last_seq, attempt, 'info', 'claimed', 'claimed by ' || worker_id,
             jsonb_build_object('worker_id', worker_id, 'attempt', attempt)
      FROM claimed
      WHERE NOT folded
    ),
    notified AS (${notified})
    -- One row even when nothing was claimed, to carry the capped-lane count.
    SELECT capped.n AS capped_lanes, done.* FROM capped
    LEFT JOIN (SELECT claimed.* FROM claimed CROSS JOIN notified) done ON true
    ORDER BY done.priority DESC, done.run_at, done.id
  `.execute(db);
  const cappedLanes = rows[0]?.capped_lanes ?? 0;
  const runs = rows
    .filter((row) => row.id !== null)
    .map(({ capped_lanes: _, folded: __, ...run }) => run as HotRun);
  return { runs, cappedLanes };
}
