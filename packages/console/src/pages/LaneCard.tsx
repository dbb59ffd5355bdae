import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useConnection } from '../lib/realtime.js';
import { href } from '../lib/router.js';
import { ago, between, duration, shortId } from '../lib/format.js';
import type { LaneT } from '../lib/types.js';
import { percent, recoveryDetail, recoveryRate } from '../lib/recovery.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { useToast } from '../components/Toasts.js';

type ActiveRun = LaneT['active'][number];

/** idle, busy, backlog (waiting with nobody to serve it) or paused: the card's colour. */
function laneState(lane: LaneT): string {
  if (lane.paused) return 'paused';
  if (lane.depth > 0 && lane.workers_live === 0) return 'stalled';
  if (lane.depth > 0 && (lane.oldest_queued_age_s ?? 0) > 60) return 'backlog';
  if (lane.running > 0 || lane.depth > 0) return 'busy';
  return 'idle';
}

/** The heartbeat pulse re-animates on every new heartbeat (keyed on its timestamp); stale turns amber. */
function Pulse({ run, now }: { run: ActiveRun; now: number }) {
  const age = run.heartbeat_at ? (now - Date.parse(run.heartbeat_at)) / 1000 : Infinity;
  const fresh = age < 15;
  return (
    <span
      key={run.heartbeat_at ?? 'none'}
      className={`pulse ${fresh ? 'pulse-fresh' : 'pulse-stale'}`}
      role="img"
      aria-label={run.heartbeat_at ? `last heartbeat ${Math.round(age)} s ago` : 'no heartbeat yet'}
      title={run.heartbeat_at ? `heartbeat ${ago(run.heartbeat_at, now)}` : 'no heartbeat yet'}
    />
  );
}

export function LaneCard({ lane, now }: { lane: LaneT; now: number }) {
  const { client, isAdmin } = useConnection();
  const qc = useQueryClient();
  const toast = useToast();
  const state = laneState(lane);
  const pause = useMutation({
    mutationFn: (paused: boolean) => client.lanes.update(lane.name, { paused }),
    onMutate: (paused) => {
      const before = qc.getQueryData<{ lanes: LaneT[] }>(['lanes']);
      qc.setQueryData<{ lanes: LaneT[] }>(
        ['lanes'],
        (old) => old && { lanes: old.lanes.map((l) => (l.name === lane.name ? { ...l, paused } : l)) },
      );
      return { before };
    },
    onError: (err, _v, ctx) => {
      if (ctx?.before) qc.setQueryData(['lanes'], ctx.before);
      toast('error', `Could not update lane ${lane.name}: ${(err as Error).message}`);
    },
  });
  const last = lane.last_completed;
  return (
    <article
      className={`lane lane-${state}`}
      data-lane={lane.name}
      data-state={state}
      aria-labelledby={`lane-${lane.name}`}
    >
      <header className="lane-head">
        <h2 id={`lane-${lane.name}`}>
          <a href={href('runs') + `?lane=${encodeURIComponent(lane.name)}`}>Lane {lane.name}</a>
        </h2>
        <span className={`lane-state ls-${state}`}>{state}</span>
        {isAdmin && (
          <button
            type="button"
            className="btn-small"
            onClick={() => pause.mutate(!lane.paused)}
            aria-label={`${lane.paused ? 'Resume' : 'Pause'} lane ${lane.name}`}
          >
            {lane.paused ? 'Resume' : 'Pause'}
          </button>
        )}
      </header>
      <dl className="figures">
        <div>
          <dt>Queued</dt>
          <dd data-fig="depth">{lane.depth}</dd>
        </div>
        <div>
          <dt>Scheduled</dt>
          <dd data-fig="scheduled">{lane.scheduled}</dd>
        </div>
        <div>
          <dt>Running</dt>
          <dd data-fig="running">
            {lane.running}
            {lane.max_concurrency !== null && <small>/{lane.max_concurrency}</small>}
          </dd>
        </div>
        <div>
          <dt>Oldest wait</dt>
          <dd data-fig="oldest">
            {lane.oldest_queued_age_s === null ? '—' : duration(lane.oldest_queued_age_s * 1000)}
          </dd>
        </div>
        <div>
          <dt>Workers</dt>
          <dd data-fig="workers">{lane.workers_live}</dd>
        </div>
      </dl>
      <RecoveryLine lane={lane} />
      <ul className="active-runs" aria-label={`Active runs in lane ${lane.name}`}>
        {lane.active.length === 0 && <li className="muted small">No active runs</li>}
        {lane.active.map((run) => (
          <li key={run.id} className="active-run" data-run={run.id}>
            <div className="ar-line">
              <Pulse run={run} now={now} />
              <a href={href('runs', run.id)} className="ar-name">
                {run.template}
              </a>
              <code className="muted">{shortId(run.id)}</code>
              <span className="ar-step" title="current step">
                {run.current_step ?? 'starting'}
              </span>
              <span className="ar-elapsed">{duration(between(run.started_at, null, now))}</span>
            </div>
            {run.last_line && (
              <div className="ar-last" title={run.last_line}>
                {run.last_line}
              </div>
            )}
          </li>
        ))}
      </ul>
      <footer className="lane-foot">
        {last ? (
          <a href={href('runs', last.id)} className="last-run" data-last={last.id}>
            <span className="muted">Last:</span> <StatusBadge status={last.status} /> {last.template}{' '}
            <span className="muted">in {duration(between(last.started_at, last.finished_at))}</span>{' '}
            <span className="muted">· {ago(last.finished_at, now)}</span>
          </a>
        ) : (
          <span className="muted small">Nothing finished yet</span>
        )}
      </footer>
    </article>
  );
}

/** How the runs the sweeper rescued in this lane ended: the recovery success rate. */
function RecoveryLine({ lane }: { lane: LaneT }) {
  const r = lane.recovered;
  const { ended, rate } = recoveryRate(r);
  if (ended + r.pending === 0)
    return (
      <div className="lane-recovery muted small" data-fig="recovered">
        No run recovered from a lost worker
      </div>
    );
  return (
    <div className="lane-recovery small" data-fig="recovered" title={recoveryDetail(r)}>
      Recovered from a lost worker: <b data-fig="recovery-rate">{percent(rate)}</b> succeeded
      <span className="muted">
        {' '}
        ({r.success} of {ended}
        {r.pending > 0 ? `; ${r.pending} still going` : ''})
      </span>
    </div>
  );
}
