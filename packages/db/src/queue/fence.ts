import type { Kysely } from 'kysely';
import type { Database, RunRow, RunStatus } from '../types.js';

/**
 * A lease a worker presents: the run and the token it got when claiming.
 *
 * PLAN-STABLE: a fenced statement finds its runs by `id` and `lease_token` only, never with a
 * `status = 'running'` filter beside them. The token is the whole fence: `runs_lease_iff_running` makes a
 * non-null token mean running, and completion, release and the sweeper clear it. A status filter added
 * nothing but a trap: the `status = 'running'` (and `'queued'`) partial indexes then offer the planner a
 * second way in, and when the statistics say few runs are running (taken while the system was quiet, or before
 * a burst: autovacuum analyses a big table rarely) it scans every running run per call instead of probing the
 * primary key — a claim of 200 from a fresh 20,000-run queue took 500 ms instead of 10. The same holds for a
 * run locked by the statement itself (claim, sweeper): the lock re-checks the status. Proof:
 * packages/db/test/plan-stability.integration.test.ts.
 */
export interface Lease {
  runId: string;
  leaseToken: string;
}

/**
 * Why a fenced write matched no row. On the wire it is `not_found` or `lease_lost` (`reason`); `why` says
 * which of the lease's conditions failed, for the worker's log and the operator reading it:
 * - `not_found`: no such run;
 * - `not_running`: the run is no longer `running` (requeued by the sweeper or a restart, cancelled, finished);
 * - `stale_attempt`: the run is running again under a newer claim (another lease token, `attempt` says which);
 * - `wrong_worker`: as stale_attempt, and the caller said which worker it is: another one holds the run.
 */
export type FenceMiss =
  | { reason: 'not_found'; why: 'not_found' }
  | {
      reason: 'lease_lost';
      why: 'not_running' | 'stale_attempt' | 'wrong_worker';
      status: RunStatus;
      attempt: number;
      worker_id: string | null;
    };

/** A fenced operation either applies or says why not; losing a race is an answer, not an exception. */
export type Fenced<T> = { ok: true; value: T } | ({ ok: false } & FenceMiss);

const isUuid = (value: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/** Judge one lease against the run row as it is now (undefined: no such run). */
export function fenceMiss(
  run: Pick<RunRow, 'status' | 'attempt' | 'worker_id' | 'lease_token'> | undefined,
  lease: Lease & { workerId?: string },
): FenceMiss | undefined {
  if (!run) return { reason: 'not_found', why: 'not_found' };
  const facts = { status: run.status, attempt: run.attempt, worker_id: run.worker_id };
  if (run.status !== 'running') return { reason: 'lease_lost', why: 'not_running', ...facts };
  if (run.lease_token === lease.leaseToken) return undefined;
  const why =
    lease.workerId !== undefined && lease.workerId !== run.worker_id ? 'wrong_worker' : 'stale_attempt';
  return { reason: 'lease_lost', why, ...facts };
}

/**
 * Why each of these fenced writes matched no row, read in one query after the write. The one place that
 * tells `not_found` from `lease_lost` (and which kind of lost), for every fenced write of the queue. A lease
 * that is current again by the time it is read (a write that lost only a lock race) counts as stale_attempt:
 * the write did not apply and the worker must not assume it did.
 */
export async function diagnoseFence(
  db: Kysely<Database>,
  leases: (Lease & { workerId?: string })[],
): Promise<Map<string, FenceMiss>> {
  const ids = [...new Set(leases.map((l) => l.runId).filter(isUuid))];
  const rows =
    ids.length === 0
      ? []
      : await db
          .selectFrom('runs')
          .select(['id', 'status', 'attempt', 'worker_id', 'lease_token'])
          .where('id', 'in', ids)
          .execute();
  const byId = new Map(rows.map((row) => [row.id, row]));
  return new Map(
    leases.map((lease) => {
      const run = byId.get(lease.runId);
      const miss = fenceMiss(run, lease) ?? {
        reason: 'lease_lost' as const,
        why: 'stale_attempt' as const,
        status: run!.status,
        attempt: run!.attempt,
        worker_id: run!.worker_id,
      };
      return [lease.runId, miss];
    }),
  );
}

/** Results for `leases` from the rows a fenced write applied to; the misses diagnosed in one query. */
export async function fenced<T>(
  db: Kysely<Database>,
  leases: Lease[],
  applied: Map<string, T>,
): Promise<Fenced<T>[]> {
  const missing = leases.filter((lease) => !applied.has(lease.runId));
  const misses = missing.length > 0 ? await diagnoseFence(db, missing) : new Map<string, FenceMiss>();
  return leases.map((lease): Fenced<T> => {
    const value = applied.get(lease.runId);
    return value !== undefined ? { ok: true, value } : { ok: false, ...misses.get(lease.runId)! };
  });
}

/** The run, if this lease is current (for reads fenced by the lease, which write nothing). */
export async function leasedRun(db: Kysely<Database>, lease: Lease): Promise<Fenced<RunRow>> {
  const run = isUuid(lease.runId)
    ? await db.selectFrom('runs').selectAll().where('id', '=', lease.runId).executeTakeFirst()
    : undefined;
  const miss = fenceMiss(run, lease);
  return miss ? { ok: false, ...miss } : { ok: true, value: run! };
}
