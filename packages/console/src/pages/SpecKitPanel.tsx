import { useQuery } from '@tanstack/react-query';
import { useConnection } from '../lib/realtime.js';
import { href, navigate, useRoute } from '../lib/router.js';
import { clock, shortId } from '../lib/format.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { Empty, ErrorLine } from '../components/Empty.js';
import { LaunchForm } from '../features/templates/RunForm.js';
import { ArtifactGallery } from '../features/artifacts/ArtifactGallery.js';
import { JsonTree } from '../features/artifacts/ArtifactViewer.js';

const GENERATE = 'generate_spec_kit';
const VALIDATE = 'validate_spec_kit';

/** A Spec Kit template if installed; `null` (not an error) when the API has no such template. */
function useOptionalTemplate(name: string) {
  const { client } = useConnection();
  return useQuery({
    queryKey: ['template', name],
    queryFn: () =>
      client.templates
        .get(name)
        .catch((err: { status?: number }) => (err.status === 404 ? null : Promise.reject(err))),
    retry: false,
  });
}

function RecentRuns({ template, selected, param }: { template: string; selected?: string; param: string }) {
  const { client } = useConnection();
  const runs = useQuery({
    queryKey: ['runs', { template, limit: 5 }],
    queryFn: () => client.runs.list({ template, limit: 5 }),
  });
  const list = runs.data?.runs ?? [];
  if (list.length === 0) return null;
  return (
    <ul className="recent" aria-label={`Recent ${template} runs`}>
      {list.map((r) => (
        <li key={r.id}>
          <a
            href={`${href('spec-kit')}?${param}=${r.id}`}
            aria-current={r.id === selected ? 'true' : undefined}
          >
            <StatusBadge status={r.status} /> <code>{shortId(r.id)}</code>{' '}
            <span className="muted">{clock(r.created_at)}</span>
          </a>
        </li>
      ))}
    </ul>
  );
}

/** The problems a failed validation reported, one error event each (file and line in the message). */
function Problems({ runId }: { runId: string }) {
  const { client } = useConnection();
  const events = useQuery({
    queryKey: ['events', runId, 'error'],
    queryFn: () => client.runs.events(runId, { level: 'error', limit: 500 }),
  });
  const list = events.data?.events ?? [];
  if (list.length === 0) return null;
  return (
    <ul className="problems" aria-label="Validation problems">
      {list.map((e) => (
        <li key={e.seq}>{e.message}</li>
      ))}
    </ul>
  );
}

/** Start validate_spec_kit on a generated kit's zip. */
function ValidateKit({ runId, generateRun }: { runId: string; generateRun: string }) {
  const { client, canOperate } = useConnection();
  const artifacts = useQuery({
    queryKey: ['artifacts', runId, 'success'],
    queryFn: () => client.runs.artifacts(runId),
  });
  const zip = artifacts.data?.artifacts.find((a) => a.kind === 'zip');
  if (!zip || !canOperate) return null;
  const start = async () => {
    const { run } = await client.runs.create({ template: VALIDATE, params: { artifact_id: zip.id } });
    navigate(`${href('spec-kit')}?run=${generateRun}&validation=${run.id}`);
  };
  return (
    <button type="button" className="btn-primary" onClick={() => void start()}>
      Validate this kit ({zip.name})
    </button>
  );
}

function RunResult({ id, validateInstalled }: { id: string; validateInstalled?: boolean }) {
  const { client } = useConnection();
  const run = useQuery({ queryKey: ['run', id], queryFn: () => client.runs.get(id) });
  if (!run.data) return <Empty>Loading run…</Empty>;
  const r = run.data.run;
  return (
    <div className="spec-result" data-run={r.id}>
      <div className="row">
        <StatusBadge status={r.status} cancelling={r.cancel_requested} />{' '}
        <a href={href('runs', r.id)}>Run {shortId(r.id)}</a>
        <a href={href('runs', r.id, 'logs')}>logs</a>
      </div>
      {r.error && <div className="callout callout-error">{r.error.message}</div>}
      {r.status === 'error' && r.template === VALIDATE && <Problems runId={r.id} />}
      {r.status === 'success' && r.template === GENERATE && validateInstalled && (
        <ValidateKit runId={r.id} generateRun={r.id} />
      )}
      {r.output !== null && r.output !== undefined && (
        <details open={r.template === VALIDATE}>
          <summary>Result</summary>
          <JsonTree value={r.output} />
        </details>
      )}
      {(r.status === 'queued' || r.status === 'running') && (
        <p className="muted">Working… the files appear here when the run finishes.</p>
      )}
      <ArtifactGallery runId={r.id} runStatus={r.status} embedded />
    </div>
  );
}

function Missing({ name }: { name: string }) {
  return (
    <div className="callout" role="note" data-testid={`missing-${name}`}>
      The <code>{name}</code> template is not installed on this API, so this part of the panel is unavailable.
      Install the Spec Kit templates (e.g. <code>ocr templates apply -f</code>) and reload.
    </div>
  );
}

/** Generate a spec kit from a form, preview its files, download the zip; validate and show the results. */
export function SpecKitPanel() {
  const { query } = useRoute();
  const generate = useOptionalTemplate(GENERATE);
  const validate = useOptionalTemplate(VALIDATE);
  const genRun = query.get('run') ?? undefined;
  const valRun = query.get('validation') ?? undefined;
  return (
    <section aria-labelledby="spec-title" className="spec-kit">
      <div className="page-head">
        <h1 id="spec-title">Spec Kit</h1>
      </div>
      <div className="spec-grid">
        <section className="panel" aria-labelledby="gen-title">
          <h2 id="gen-title">Generate</h2>
          <ErrorLine error={generate.error} />
          {generate.isLoading && <Empty>Loading…</Empty>}
          {generate.data === null && <Missing name={GENERATE} />}
          {generate.data && (
            <>
              {generate.data.description && <p className="muted">{generate.data.description}</p>}
              <LaunchForm
                template={generate.data}
                submitLabel="Generate spec kit"
                onStarted={(run) => navigate(`${href('spec-kit')}?run=${run.id}`)}
              />
              <RecentRuns template={GENERATE} selected={genRun} param="run" />
            </>
          )}
          {genRun && <RunResult key={genRun} id={genRun} validateInstalled={!!validate.data} />}
        </section>
        <section className="panel" aria-labelledby="val-title">
          <h2 id="val-title">Validate</h2>
          <ErrorLine error={validate.error} />
          {validate.data === null && <Missing name={VALIDATE} />}
          {validate.data && (
            <>
              {validate.data.description && <p className="muted">{validate.data.description}</p>}
              <LaunchForm
                template={validate.data}
                submitLabel="Validate"
                onStarted={(run) => navigate(`${href('spec-kit')}?validation=${run.id}`)}
              />
              <RecentRuns template={VALIDATE} selected={valRun} param="validation" />
            </>
          )}
          {valRun && <RunResult key={valRun} id={valRun} />}
        </section>
      </div>
      <SpecDocs />
    </section>
  );
}

function SpecDocs() {
  const { client } = useConnection();
  const docs = useQuery({ queryKey: ['spec-docs'], queryFn: () => client.specDocs.list() });
  const list = docs.data?.spec_docs ?? [];
  if (list.length === 0) return null;
  return (
    <section className="panel" aria-labelledby="docs-title">
      <h2 id="docs-title">Spec documents</h2>
      <table className="table" aria-label="Spec documents">
        <thead>
          <tr>
            <th>Project</th>
            <th>Name</th>
            <th>Version</th>
            <th>Run</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {list.map((d) => (
            <tr key={d.id}>
              <td>{d.project}</td>
              <td>{d.name}</td>
              <td>v{d.version}</td>
              <td>
                {d.run_id ? (
                  <a href={href('runs', d.run_id, 'artifacts', ...(d.artifact_id ? [d.artifact_id] : []))}>
                    {shortId(d.run_id)}
                  </a>
                ) : (
                  '—'
                )}
              </td>
              <td>{clock(d.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
