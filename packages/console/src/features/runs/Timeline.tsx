import { useConnection } from '../../lib/realtime.js';
import { useRunEvents } from '../../lib/run-log.js';
import { between, duration, time } from '../../lib/format.js';
import type { RunDetailT, RunT } from '../../lib/types.js';
import { StatusBadge } from '../../components/StatusBadge.js';
import { Empty } from '../../components/Empty.js';

type StepRow = RunDetailT['steps'][number];

/** Event types that are milestones of a run's life rather than output. */
const MILESTONE =
  /^(claimed|run\.|step\.|requeued|released|heartbeat|cancel|lease|retry|notice|artifact|sweeper|timeout)/;

/** Steps as bars on the run's time axis, then the milestones (claimed, steps, heartbeats lost, requeues, cancel stages). */
export function Timeline({ runId, steps, run }: { runId: string; steps: StepRow[]; run: RunT }) {
  const { stream } = useConnection();
  const { events } = useRunEvents(stream, runId);
  const milestones = events.filter((e) => e.type !== 'log' && MILESTONE.test(e.type));
  const t0 = Date.parse(run.started_at ?? run.created_at);
  const t1 = Math.max(Date.now(), t0 + 1);
  const end = run.finished_at ? Date.parse(run.finished_at) : t1;
  const span = Math.max(1, end - t0);
  return (
    <div className="timeline">
      <h2 className="h-sub">Steps</h2>
      {steps.length === 0 ? (
        <Empty>No steps have started yet.</Empty>
      ) : (
        <ol className="gantt" aria-label="Steps">
          {steps.map((s) => {
            const start = Date.parse(s.started_at) - t0;
            const len = (s.finished_at ? Date.parse(s.finished_at) : end) - Date.parse(s.started_at);
            return (
              <li key={`${s.attempt}-${s.idx}`} className="gantt-row">
                <span className="gantt-name">
                  {s.attempt > 1 && <span className="muted">#{s.attempt} </span>}
                  {s.name} <span className="muted">{s.kind}</span>
                </span>
                <span className="gantt-track" aria-hidden="true">
                  <span
                    className={`gantt-bar st-${s.status}`}
                    style={{
                      left: `${(100 * Math.max(0, start)) / span}%`,
                      width: `${Math.max(0.5, (100 * len) / span)}%`,
                    }}
                  />
                </span>
                <StatusBadge status={s.status} />
                <span className="gantt-dur">{duration(between(s.started_at, s.finished_at))}</span>
                {s.exit_code !== null && <span className="muted small">exit {s.exit_code}</span>}
              </li>
            );
          })}
        </ol>
      )}
      <h2 className="h-sub">Milestones</h2>
      {milestones.length === 0 ? (
        <Empty>No milestones yet.</Empty>
      ) : (
        <ol className="milestones" aria-label="Milestones">
          {milestones.map((e) => (
            <li key={e.seq} className={`ms ms-${e.level}`} data-type={e.type}>
              <span className="ms-time">{time(e.ts)}</span>
              <span className="ms-offset muted">+{duration(Date.parse(e.ts) - t0)}</span>
              <span className="ms-type">{e.type}</span>
              <span className="ms-msg">{e.message}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
