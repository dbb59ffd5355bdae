import { useQuery } from '@tanstack/react-query';
import { useConnection, withPending } from '../lib/realtime.js';
import { href } from '../lib/router.js';
import { between, clock, duration } from '../lib/format.js';
import { useNow } from '../lib/use-now.js';
import { saveBlob } from '../lib/download.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { Empty, ErrorLine } from '../components/Empty.js';
import { useToast } from '../components/Toasts.js';
import { RunControls } from '../features/runs/RunControls.js';
import { LogView } from '../features/logs/LogView.js';
import { Timeline } from '../features/runs/Timeline.js';
import { EventsTable } from '../features/runs/EventsTable.js';
import { ArtifactGallery } from '../features/artifacts/ArtifactGallery.js';
import { CompareWith } from '../features/compare/CompareWith.js';
import type { RunT } from '../lib/types.js';

const TABS = [
  ['logs', 'Logs'],
  ['timeline', 'Timeline'],
  ['events', 'Events'],
  ['artifacts', 'Artifacts'],
] as const;

/** "Why isn't this running": the API's wait_reason for a queued run, in words. */
function WaitReason({ run }: { run: RunT }) {
  if (run.status !== 'queued') return null;
  return (
    <div className="callout" role="note" aria-label="Why isn't this running">
      <strong>Why isn't this running?</strong>{' '}
      {run.wait_reason ?? 'It is next in line: a worker serving this lane will claim it shortly.'}
    </div>
  );
}

/** One run: metadata, controls, export, and tabs for logs, timeline, events and artifacts. */
export function RunPage({ id, tab, artifactId }: { id: string; tab: string; artifactId?: string }) {
  const { client, pending } = useConnection();
  const toast = useToast();
  const now = useNow();
  const detail = useQuery({
    queryKey: ['run', id],
    queryFn: () => client.runs.get(id),
    refetchInterval: (q) =>
      q.state.data && ['queued', 'running'].includes(q.state.data.run.status) ? 10_000 : false,
  });
  const run = detail.data ? withPending(detail.data.run, pending) : undefined;

  const exportAs = async (format: 'json' | 'markdown') => {
    try {
      const res = await client.runs.export(id, format);
      saveBlob(await res.blob(), `run-${id}.${format === 'json' ? 'json' : 'md'}`);
    } catch (err) {
      toast('error', `Export failed: ${(err as Error).message}`);
    }
  };

  if (detail.error) return <ErrorLine error={detail.error} />;
  if (!run) return <Empty>Loading run…</Empty>;
  return (
    <section aria-labelledby="run-title" className="run-page">
      <div className="page-head">
        <h1 id="run-title">
          <a href={href('runs')} className="muted">
            Runs
          </a>{' '}
          / {run.template} <code className="muted">{run.id.slice(0, 8)}</code>
        </h1>
        <StatusBadge status={run.status} cancelling={run.cancel_requested} />
        <span className="spacer" />
        <RunControls run={run} />
        <CompareWith run={run} />
        <button type="button" onClick={() => void exportAs('json')}>
          Export JSON
        </button>
        <button type="button" onClick={() => void exportAs('markdown')}>
          Export Markdown
        </button>
      </div>
      <WaitReason run={run} />
      {run.error && (
        <div className="callout callout-error" role="alert">
          <code>{run.error.code}</code> {run.error.message}
        </div>
      )}
      <dl className="meta">
        <div>
          <dt>Run id</dt>
          <dd>
            <code>{run.id}</code>
          </dd>
        </div>
        <div>
          <dt>Template</dt>
          <dd>
            <a href={href('templates', run.template, 'run')}>{run.template}</a> v{run.template_version}
          </dd>
        </div>
        <div>
          <dt>Lane</dt>
          <dd>{run.lane}</dd>
        </div>
        <div>
          <dt>Priority</dt>
          <dd>{run.priority}</dd>
        </div>
        <div>
          <dt>Attempt</dt>
          <dd>
            {run.attempt} of {run.max_attempts}
          </dd>
        </div>
        <div>
          <dt>Worker</dt>
          <dd>{run.worker_id ?? '—'}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{clock(run.created_at)}</dd>
        </div>
        <div>
          <dt>Run at</dt>
          <dd>{clock(run.run_at)}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{clock(run.started_at)}</dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>{clock(run.finished_at)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd data-fig="duration">{duration(between(run.started_at, run.finished_at, now))}</dd>
        </div>
        <div>
          <dt>Heartbeat</dt>
          <dd>{clock(run.heartbeat_at)}</dd>
        </div>
        {run.retry_of && (
          <div>
            <dt>Retry of</dt>
            <dd>
              <a href={href('runs', run.retry_of)}>
                <code>{run.retry_of.slice(0, 8)}</code>
              </a>
            </dd>
          </div>
        )}
        <div className="meta-wide">
          <dt>Params</dt>
          <dd>
            <code className="params">{JSON.stringify(run.params)}</code>
          </dd>
        </div>
      </dl>
      <nav className="tabs" aria-label="Run views">
        {TABS.map(([t, label]) => (
          <a key={t} href={href('runs', run.id, t)} aria-current={tab === t ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <div className="tab-body">
        {tab === 'logs' && <LogView runId={run.id} />}
        {tab === 'timeline' && <Timeline runId={run.id} steps={detail.data!.steps} run={run} />}
        {tab === 'events' && <EventsTable runId={run.id} />}
        {tab === 'artifacts' && (
          <ArtifactGallery runId={run.id} selected={artifactId} runStatus={run.status} />
        )}
      </div>
    </section>
  );
}
