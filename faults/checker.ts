import { readFile } from 'node:fs/promises';
import type pg from 'pg';

/** Legal status changes of a run (spec/state-machine.md); anything else the audit trigger saw is illegal. */
const LEGAL = new Set([
  '∅>queued',
  'queued>running',
  'queued>cancelled',
  'running>queued',
  'running>success',
  'running>error',
  'running>cancelled',
]);
const TERMINAL = new Set(['success', 'error', 'cancelled']);

/** The audit trigger the suite installs in its own database: every insert and status/attempt change. */
export const AUDIT_SQL = `
  CREATE TABLE IF NOT EXISTS faults_audit (
    id bigserial PRIMARY KEY, run_id uuid NOT NULL, old_status text, new_status text NOT NULL,
    old_attempt int, new_attempt int NOT NULL, worker_id text, at timestamptz NOT NULL DEFAULT clock_timestamp());
  CREATE OR REPLACE FUNCTION faults_audit_fn() RETURNS trigger AS $$
  BEGIN
    IF TG_OP = 'INSERT' THEN
      INSERT INTO faults_audit (run_id, old_status, new_status, old_attempt, new_attempt, worker_id)
      VALUES (NEW.id, NULL, NEW.status, NULL, NEW.attempt, NEW.worker_id);
    ELSIF NEW.status IS DISTINCT FROM OLD.status OR NEW.attempt IS DISTINCT FROM OLD.attempt THEN
      INSERT INTO faults_audit (run_id, old_status, new_status, old_attempt, new_attempt, worker_id)
      VALUES (NEW.id, OLD.status, NEW.status, OLD.attempt, NEW.attempt, COALESCE(NEW.worker_id, OLD.worker_id));
    END IF;
    RETURN NEW;
  END $$ LANGUAGE plpgsql;
  DROP TRIGGER IF EXISTS faults_audit ON runs;
  CREATE TRIGGER faults_audit AFTER INSERT OR UPDATE ON runs FOR EACH ROW EXECUTE FUNCTION faults_audit_fn();
`;

export interface Accepted {
  id: string;
  kind: string;
  lines?: number;
  artifacts?: string[];
  cancelled?: boolean;
}

export interface KillRecord {
  at: number;
  /** The attempts the worker held when it was killed. */
  runs: { id: string; attempt: number }[];
}

/** When the faults that stop the sweeper from requeuing happened (ms since the epoch). */
export interface Timeline {
  /** Postgres down (stop called) and back (accepting connections again). */
  postgresOutages: { down: number; back: number }[];
  /** SIGKILL of the sweeper that held the lease. */
  leaderKills: { at: number; name: string }[];
  /** A killed sweeper: from its kill until its restarted process answers /healthz. */
  sweeperDown: { name: string; down: number; up: number }[];
}

/** The cluster's timings (ms) the recovery promise is made of. */
export interface Timings {
  timeoutMs: number;
  sweepMs: number;
  leaderTtlMs: number;
}

/** Slack for the work itself (queries, event insert, a loaded machine) on top of each bound. */
export const SLACK_MS = 1_000;

/**
 * The latest time by which a run whose worker was SIGKILLed at `killAt` must be requeued, by what the
 * product promises (docs/sweeper.md, docs/reliability.md):
 * - its heartbeat is stale at most a timeout after the kill, and the leader's next tick (≤ one sweep
 *   interval later) requeues it: kill + timeout + sweep + slack;
 * - nothing can be requeued while Postgres is down, and after it is back the sweepers give workers a full
 *   heartbeat timeout of availability to be heard (a sweep interval to notice it is back, the timeout, a
 *   sweep interval to the next tick): back + sweep + timeout + sweep + slack, for an outage that starts before
 *   the deadline (one that ended shortly before the kill counts too: the warm-up may still be running);
 * - a SIGKILLed leader is replaced once its lease lapses (≤ TTL after its last renewal) at the follower's
 *   next tick, which sweeps at once: leader kill + TTL + sweep + slack, for a leader kill before the deadline;
 *   if the follower is itself down then (killed moments before, still restarting), no sweeper runs until the
 *   first of the two is up again and has warmed up: up + sweep + timeout + sweep + slack.
 * Applied until nothing moves the deadline further. `plain` is true when no outage or leader kill did.
 */
export function requeueDeadline(
  killAt: number,
  timeline: Timeline,
  t: Timings,
): { by: number; plain: boolean } {
  let by = killAt + t.timeoutMs + t.sweepMs + SLACK_MS;
  let plain = true;
  for (let moved = true; moved;) {
    moved = false;
    for (const o of timeline.postgresOutages) {
      const until = o.back + 2 * t.sweepMs + t.timeoutMs + SLACK_MS;
      if (o.down < by && until > by) {
        by = until;
        plain = false;
        moved = true;
      }
    }
    for (const { at, name } of timeline.leaderKills) {
      // The other replica takes over, unless it is itself down (killed and not yet restarted): then no
      // sweeper runs until the first of the two is up again and has warmed up.
      const upAgain = (who: (n: string) => boolean) =>
        timeline.sweeperDown.find((d) => who(d.name) && d.down <= at && d.up > at)?.up;
      const otherUp = upAgain((n) => n !== name);
      const until =
        otherUp === undefined
          ? at + t.leaderTtlMs + t.sweepMs + SLACK_MS
          : Math.min(otherUp, upAgain((n) => n === name) ?? Infinity) +
            2 * t.sweepMs +
            t.timeoutMs +
            SLACK_MS;
      if (at < by && until > by) {
        by = until;
        plain = false;
        moved = true;
      }
    }
  }
  return { by, plain };
}

/** One killed run's recovery: kill → requeued (or failed) by the sweeper or a restart. */
export interface Recovery {
  runId: string;
  ms: number;
  /** The deadline the product promises for this run (ms after the kill), see requeueDeadline. */
  boundMs: number;
  /** No Postgres outage or leader kill in its window: the plain bound applies. */
  plain: boolean;
}

export interface Findings {
  runs: number;
  byStatus: Record<string, number>;
  lost: string[];
  duplicateOutcomes: string[];
  illegal: string[];
  overBudget: string[];
  linesLost: string[];
  linesDuplicated: string[];
  artifactsMissing: string[];
  /** Runs that ended `error` because an artifact could not be stored (artifact_upload_failed). */
  artifactRunsFailed: string[];
  executions: number;
  recoveryRequeue: Recovery[];
  recoveryRequeueMs: number[];
  recoveryCompleteMs: number[];
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};
export { percentile };

/**
 * The checker: from the database (audit trail, runs, events, artifacts) and the workload's own records
 * (what it created, and one line per execution written by the step itself before anything else).
 */
export async function check(
  db: pg.Pool,
  accepted: Accepted[],
  execLog: string,
  kills: KillRecord[],
  timeline: Timeline,
  timings: Timings,
): Promise<Findings> {
  const ids = accepted.map((a) => a.id);
  const { rows: runs } = await db.query<{
    id: string;
    status: string;
    attempt: number;
    max_attempts: number;
    infra_losses: number;
    releases: number;
    finished_at: Date | null;
    error_code: string | null;
  }>(
    `SELECT id, status, attempt, max_attempts, infra_losses, releases, finished_at, error->>'code' AS error_code FROM runs WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  const byId = new Map(runs.map((r) => [r.id, r]));
  const byStatus: Record<string, number> = {};
  for (const r of runs) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const lost = ids.filter((id) => !TERMINAL.has(byId.get(id)?.status ?? ''));

  const { rows: audit } = await db.query<{
    run_id: string;
    old_status: string | null;
    new_status: string;
    old_attempt: number | null;
    new_attempt: number;
  }>(
    `SELECT run_id, old_status, new_status, old_attempt, new_attempt FROM faults_audit WHERE run_id = ANY($1::uuid[]) ORDER BY id`,
    [ids],
  );
  const terminalCount = new Map<string, number>();
  const illegal: string[] = [];
  for (const a of audit) {
    const edge = `${a.old_status ?? '∅'}>${a.new_status}`;
    const claimBump =
      a.old_status === 'queued' && a.new_status === 'running'
        ? a.new_attempt === (a.old_attempt ?? 0) + 1
        : a.new_attempt === (a.old_attempt ?? a.new_attempt);
    if (!LEGAL.has(edge) || !claimBump)
      illegal.push(`${a.run_id} ${edge} attempt ${a.old_attempt}→${a.new_attempt}`);
    if (TERMINAL.has(a.new_status)) terminalCount.set(a.run_id, (terminalCount.get(a.run_id) ?? 0) + 1);
  }
  const duplicateOutcomes = [...terminalCount].filter(([, n]) => n > 1).map(([id]) => id);

  // Executions, as the steps themselves recorded them: "<run id> <attempt>" per start.
  const execs = new Map<string, string[]>();
  const text = await readFile(execLog, 'utf8').catch(() => '');
  let executions = 0;
  for (const line of text.split('\n')) {
    const [id, attempt] = line.trim().split(' ');
    if (!id || !attempt) continue;
    executions++;
    execs.set(id, [...(execs.get(id) ?? []), attempt]);
  }
  const overBudget: string[] = [];
  for (const [id, attempts] of execs) {
    const run = byId.get(id);
    if (!run) continue;
    const budget = run.max_attempts + run.infra_losses + run.releases;
    const twice = attempts.length !== new Set(attempts).size;
    if (attempts.length > budget || twice || attempts.some((a) => Number(a) > run.attempt))
      overBudget.push(
        `${id} executed ${attempts.length}× (attempts ${attempts.join(',')}; budget ${budget})`,
      );
  }

  // Output: every numbered line of the attempt that succeeded, once, none missing.
  const linesLost: string[] = [];
  const linesDuplicated: string[] = [];
  const withLines = accepted.filter((a) => a.lines && byId.get(a.id)?.status === 'success');
  for (let i = 0; i < withLines.length; i += 200) {
    const chunk = withLines.slice(i, i + 200);
    const { rows } = await db.query<{ run_id: string; message: string }>(
      `SELECT e.run_id, e.message FROM run_timeline e JOIN runs r ON r.id = e.run_id AND e.attempt = r.attempt
       WHERE e.run_id = ANY($1::uuid[]) AND e.type = 'log' AND e.message LIKE 'L %'`,
      [chunk.map((a) => a.id)],
    );
    const seen = new Map<string, Map<string, number>>();
    for (const row of rows) {
      const m = seen.get(row.run_id) ?? new Map<string, number>();
      m.set(row.message, (m.get(row.message) ?? 0) + 1);
      seen.set(row.run_id, m);
    }
    for (const a of chunk) {
      const m = seen.get(a.id) ?? new Map<string, number>();
      let missing = 0;
      let dup = 0;
      for (let n = 1; n <= a.lines!; n++) {
        const c = m.get(`L ${n}`) ?? 0;
        if (c === 0) missing++;
        if (c > 1) dup++;
      }
      if (missing) linesLost.push(`${a.id} (${a.kind}): ${missing} of ${a.lines} lines missing`);
      if (dup) linesDuplicated.push(`${a.id} (${a.kind}): ${dup} lines twice`);
    }
  }

  const artifactsMissing: string[] = [];
  const withArtifacts = accepted.filter((a) => a.artifacts && byId.get(a.id)?.status === 'success');
  if (withArtifacts.length) {
    const { rows } = await db.query<{ run_id: string; name: string; status: string }>(
      `SELECT run_id, name, status FROM artifacts WHERE run_id = ANY($1::uuid[])`,
      [withArtifacts.map((a) => a.id)],
    );
    const { rows: failures } = await db.query<{ run_id: string; message: string }>(
      `SELECT run_id, message FROM run_timeline WHERE run_id = ANY($1::uuid[]) AND type = 'artifact.failed'`,
      [withArtifacts.map((a) => a.id)],
    );
    for (const a of withArtifacts) {
      for (const name of a.artifacts!) {
        if (rows.some((r) => r.run_id === a.id && r.name === name && r.status === 'ready')) continue;
        const why =
          failures.find((f) => f.run_id === a.id && f.message.includes(name))?.message ??
          'no artifact.failed event';
        artifactsMissing.push(`${a.id} ${name}: ${why}`);
      }
    }
  }

  // Recovery: a worker SIGKILLed with runs → each run's next requeue, and its completion elsewhere.
  const artifactRunsFailed = accepted
    .filter((a) => a.artifacts && byId.get(a.id)?.error_code === 'artifact_upload_failed')
    .map((a) => a.id);

  const recoveryRequeue: Recovery[] = [];
  const recoveryRequeueMs: number[] = [];
  const recoveryCompleteMs: number[] = [];
  for (const kill of kills) {
    if (kill.runs.length === 0) continue;
    // The sweep (or restart detection) of exactly the attempt that died: its event carries that attempt.
    // An attempt swept just before the kill (a zombie's), or completed meanwhile, is no sample.
    const { rows } = await db.query<{ run_id: string; requeued: Date | null }>(
      `SELECT k.id AS run_id, (SELECT min(e.ts) FROM run_timeline e WHERE e.run_id = k.id AND e.attempt = k.attempt AND e.type IN ('requeued', 'failed')) AS requeued
       FROM unnest($1::uuid[], $2::int[]) AS k(id, attempt)`,
      [kill.runs.map((r) => r.id), kill.runs.map((r) => r.attempt)],
    );
    for (const row of rows) {
      if (row.requeued && row.requeued.getTime() >= kill.at) {
        const ms = row.requeued.getTime() - kill.at;
        const { by, plain } = requeueDeadline(kill.at, timeline, timings);
        recoveryRequeueMs.push(ms);
        recoveryRequeue.push({ runId: row.run_id, ms, boundMs: by - kill.at, plain });
      }
      const finished = byId.get(row.run_id)?.finished_at;
      if (row.requeued && finished && finished.getTime() > kill.at)
        recoveryCompleteMs.push(finished.getTime() - kill.at);
    }
  }
  return {
    runs: ids.length,
    byStatus,
    lost,
    duplicateOutcomes,
    illegal,
    overBudget,
    linesLost,
    linesDuplicated,
    artifactsMissing,
    artifactRunsFailed,
    executions,
    recoveryRequeue,
    recoveryRequeueMs,
    recoveryCompleteMs,
  };
}
