import type { LaneOverview, LaneRunSummary } from '@ocr/db';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function summary(r: LaneRunSummary) {
  return {
    id: r.id,
    template: r.template,
    status: r.status,
    worker_id: r.worker_id,
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
    heartbeat_at: iso(r.heartbeat_at),
    current_step: r.current_step,
    last_line: r.last_line,
  };
}

/** Lanes as the wire shows them: figures, active runs and the last finished run. */
export function buildLanes(
  overview: LaneOverview[],
  runs: { active: LaneRunSummary[]; last: LaneRunSummary[] },
) {
  return overview.map((lane) => {
    const last = runs.last.find((r) => r.lane === lane.name);
    return {
      name: lane.name,
      max_concurrency: lane.max_concurrency,
      paused: lane.paused,
      depth: lane.depth,
      scheduled: lane.scheduled,
      running: lane.running,
      oldest_queued_age_s: lane.oldest_queued_age_s,
      workers_live: lane.workers_live,
      recovered: {
        success: lane.recovered_success,
        error: lane.recovered_error,
        cancelled: lane.recovered_cancelled,
        pending: lane.recovered_pending,
      },
      active: runs.active.filter((r) => r.lane === lane.name).map(summary),
      last_completed: last ? summary(last) : null,
    };
  });
}
