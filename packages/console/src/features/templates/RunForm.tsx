import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useConnection } from '../../lib/realtime.js';
import { href, navigate } from '../../lib/router.js';
import { Empty, ErrorLine } from '../../components/Empty.js';
import { useRunActions } from '../runs/use-run-actions.js';
import type { RunT, TemplateT } from '../../lib/types.js';
import { ParamsForm } from './ParamsForm.js';
import { PreviewPanel } from './PreviewPanel.js';
import { defaultsOf } from './schema-defaults.js';

/** Start a run of a template: params from a form generated from its schema, a lane, a priority. */
export function RunForm({ name }: { name: string }) {
  const { client } = useConnection();
  const template = useQuery({ queryKey: ['template', name], queryFn: () => client.templates.get(name) });
  if (template.error) return <ErrorLine error={template.error} />;
  if (!template.data) return <Empty>Loading template…</Empty>;
  return (
    <section aria-labelledby="runform-title">
      <div className="page-head">
        <h1 id="runform-title">
          <a href={href('templates')} className="muted">
            Templates
          </a>{' '}
          / Run {name} <span className="muted">v{template.data.version}</span>
        </h1>
      </div>
      {template.data.description && <p className="muted">{template.data.description}</p>}
      <LaunchForm template={template.data} onStarted={(run) => navigate(href('runs', run.id, 'logs'))} />
    </section>
  );
}

/** The form itself, reused by the Spec Kit panel. */
export function LaunchForm({
  template,
  onStarted,
  submitLabel,
}: {
  template: TemplateT;
  onStarted: (run: RunT) => void;
  submitLabel?: string;
}) {
  const { client, canOperate, pending } = useConnection();
  const { create } = useRunActions();
  const lanes = useQuery({ queryKey: ['lanes'], queryFn: () => client.lanes.list() });
  const [params, setParams] = useState<Record<string, unknown>>(() => defaultsOf(template.params_schema));
  const [lane, setLane] = useState(template.default_lane);
  const [priority, setPriority] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // A start of this template still waiting for the API (this form's, or one stored before a reload).
  const waiting = pending.find((a) => a.kind === 'create' && a.body.template === template.name);
  const [showPreview, setShowPreview] = useState(false);
  const laneNames = [...new Set([template.default_lane, ...(lanes.data?.lanes ?? []).map((l) => l.name)])];
  const formId = `run-form-${template.name}`;

  const submit = async (values: Record<string, unknown>) => {
    setError(null);
    setBusy(true);
    const body = { template: template.name, params: values, lane, ...(priority ? { priority } : {}) };
    const settled = await create(body, onStarted);
    setBusy(false);
    if (!settled.ok) setError(settled.error);
  };

  return (
    <div className="launch">
      <ParamsForm
        id={formId}
        idPrefix={template.name.replace(/[^A-Za-z0-9_]/g, '_')}
        schema={template.params_schema}
        value={params}
        onChange={setParams}
        onSubmit={(v) => void submit(v)}
        disabled={!canOperate || busy}
      >
        <div className="row launch-row">
          <label>
            Lane
            <select name="lane" value={lane} onChange={(e) => setLane(e.target.value)}>
              {laneNames.map((l) => (
                <option key={l}>{l}</option>
              ))}
            </select>
          </label>
          <label>
            Priority
            <input
              type="number"
              name="priority"
              min={-1000}
              max={1000}
              value={priority}
              onChange={(e) => setPriority(Number(e.target.value) || 0)}
            />
          </label>
          <span className="spacer" />
          <button type="button" onClick={() => setShowPreview((s) => !s)} aria-expanded={showPreview}>
            {showPreview ? 'Hide preview' : 'Preview steps'}
          </button>
          <button type="submit" className="btn-primary" disabled={!canOperate || busy}>
            {busy && waiting?.state === 'queued'
              ? 'Queued: starts when back online'
              : busy
                ? 'Starting…'
                : (submitLabel ?? 'Start run')}
          </button>
        </div>
      </ParamsForm>
      <ErrorLine error={error} />
      {!canOperate && <p className="muted small">Viewers cannot start runs.</p>}
      {showPreview && (
        <PreviewPanel
          key={JSON.stringify(params)}
          name={template.name}
          schema={template.params_schema}
          params={params}
        />
      )}
    </div>
  );
}
