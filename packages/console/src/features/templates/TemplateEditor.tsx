import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { ApiError } from '@ocr/client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useConnection } from '../../lib/realtime.js';
import { href, navigate } from '../../lib/router.js';
import type { TemplateInputT, TemplateT } from '../../lib/types.js';
import { Empty, ErrorLine } from '../../components/Empty.js';
import { useToast } from '../../components/Toasts.js';
import { NumberInput, TextArea, TextInput } from './fields.js';
import { ParamsBuilder } from './ParamsBuilder.js';
import { StepEditor, newStep, type StepDraft } from './StepEditor.js';
import { PreviewPanel } from './PreviewPanel.js';
import { STEP_KINDS, type StepKind } from '../../lib/types.js';

type Problem = { field: string; message: string };
type Draft = Omit<TemplateInputT, 'steps'> & { steps: StepDraft[] };

function draftOf(t?: TemplateT): Draft {
  if (!t)
    return {
      name: '',
      description: '',
      default_lane: 'A',
      params_schema: { type: 'object', properties: {} },
      steps: [newStep('shell', 'main')],
    };
  return {
    name: t.name,
    description: t.description || undefined,
    default_lane: t.default_lane,
    params_schema: t.params_schema,
    ...(t.timeout_s ? { timeout_s: t.timeout_s } : {}),
    retry: t.retry,
    steps: t.steps as StepDraft[],
  };
}

/** Drop unset optional fields so the API sees exactly what was authored. */
function bodyOf(d: Draft): TemplateInputT {
  const body: Record<string, unknown> = { ...d };
  for (const k of Object.keys(body)) if (body[k] === undefined || body[k] === '') delete body[k];
  return body as TemplateInputT;
}

/** Problems by field, and per step by the field inside the step. */
function group(problems: Problem[]) {
  const top: Record<string, string> = {};
  const steps: Record<number, Record<string, string>> = {};
  for (const p of problems) {
    const m = /^steps\[(\d+)\](?:\.(.*))?$/.exec(p.field);
    if (m) (steps[Number(m[1])] ??= {})[m[2] ?? ''] ??= p.message;
    else top[p.field.split('.')[0]!] ??= p.message;
  }
  return { top, steps };
}

/** Create or edit a template (a save adds a version); the API validates as you type. */
export function TemplateEditor({ name }: { name?: string }) {
  const { client } = useConnection();
  const existing = useQuery({
    queryKey: ['template', name],
    queryFn: () => client.templates.get(name!),
    enabled: !!name,
  });
  if (name && existing.error) return <ErrorLine error={existing.error} />;
  if (name && !existing.data) return <Empty>Loading template…</Empty>;
  return <Editor key={existing.data?.version ?? 'new'} initial={existing.data} />;
}

function Editor({ initial }: { initial?: TemplateT }) {
  const { client, canOperate } = useConnection();
  const qc = useQueryClient();
  const toast = useToast();
  const [draft, setDraft] = useState<Draft>(() => draftOf(initial));
  const [problems, setProblems] = useState<Problem[]>([]);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const [addKind, setAddKind] = useState<StepKind>('shell');
  // Stable React keys for steps, so moving or removing one keeps each editor's own input state.
  const [keys, setKeys] = useState<number[]>(() => draft.steps.map((_, i) => i));
  const nextKey = () => Math.max(-1, ...keys) + 1;
  const body = useMemo(() => bodyOf(draft), [draft]);

  useEffect(() => {
    if (!canOperate) return;
    const t = setTimeout(() => {
      // A valid template answers 200; an invalid one 400 validation_failed with every problem in details.
      client.templates.validate(body).then(
        () => setProblems([]),
        (err: unknown) => {
          if (err instanceof ApiError && err.code === 'validation_failed' && Array.isArray(err.details))
            setProblems(err.details as Problem[]);
        },
      );
    }, 350);
    return () => clearTimeout(t);
  }, [body, client, canOperate]);

  const grouped = group(problems);
  const set =
    <K extends keyof Draft>(key: K) =>
    (value: Draft[K]) =>
      setDraft((d) => ({ ...d, [key]: value }));
  const setStep = (i: number, s: StepDraft) =>
    setDraft((d) => ({ ...d, steps: d.steps.map((x, j) => (j === i ? s : x)) }));
  const swap = <T,>(list: T[], i: number, j: number) => {
    const out = [...list];
    [out[i], out[j]] = [out[j]!, out[i]!];
    return out;
  };
  const moveStep = (i: number, dir: -1 | 1) => {
    setDraft((d) => ({ ...d, steps: swap(d.steps, i, i + dir) }));
    setKeys((k) => swap(k, i, i + dir));
  };
  const removeStep = (i: number) => {
    setDraft((d) => ({ ...d, steps: d.steps.filter((_, j) => j !== i) }));
    setKeys((k) => k.filter((_, j) => j !== i));
  };
  const addStep = () => {
    setDraft((d) => ({ ...d, steps: [...d.steps, newStep(addKind, `step${d.steps.length + 1}`)] }));
    setKeys((k) => [...k, nextKey()]);
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setSaveError(null);
    try {
      const saved = initial ? await client.templates.put(body) : await client.templates.create(body);
      await qc.invalidateQueries({ queryKey: ['templates'] });
      qc.setQueryData(['template', saved.name], saved);
      toast('info', `Saved ${saved.name} v${saved.version}`);
      navigate(href('templates', saved.name, 'edit'));
    } catch (err) {
      setSaveError(err);
      const details = (err as { details?: unknown }).details;
      if (Array.isArray(details)) setProblems(details as Problem[]);
    } finally {
      setSaving(false);
    }
  };

  const retry = draft.retry ?? { max_attempts: 1 };
  return (
    <section aria-labelledby="tpl-title">
      <div className="page-head">
        <h1 id="tpl-title">
          <a href={href('templates')} className="muted">
            Templates
          </a>{' '}
          / {initial ? `${initial.name} (v${initial.version})` : 'New template'}
        </h1>
        <span className="spacer" />
        {initial && (
          <a className="btn" href={href('templates', initial.name, 'run')}>
            Run…
          </a>
        )}
      </div>
      <form className="editor" onSubmit={save} aria-label="Template">
        <div className="row">
          <TextInput
            label="Name"
            value={draft.name}
            onChange={(v) => set('name')(v ?? '')}
            error={grouped.top.name}
            required
            hint={initial ? 'saving adds a version' : 'lowercase, digits, _ . -'}
          />
          <TextInput
            label="Default lane"
            value={draft.default_lane}
            onChange={set('default_lane')}
            error={grouped.top.default_lane}
          />
          <NumberInput
            label="Timeout (s)"
            value={draft.timeout_s}
            onChange={set('timeout_s')}
            error={grouped.top.timeout_s}
          />
          <NumberInput
            label="Max attempts"
            value={retry.max_attempts}
            onChange={(v) => set('retry')(v ? { ...retry, max_attempts: v } : undefined)}
            error={grouped.top.retry}
          />
          <NumberInput
            label="Backoff initial (s)"
            step="0.5"
            value={retry.backoff?.initial_s}
            onChange={(v) =>
              set('retry')({
                ...retry,
                ...(v === undefined
                  ? { backoff: undefined }
                  : {
                      backoff: {
                        initial_s: v,
                        factor: retry.backoff?.factor ?? 2,
                        max_s: retry.backoff?.max_s ?? 60,
                      },
                    }),
              })
            }
          />
        </div>
        <TextArea
          label="Description"
          value={draft.description}
          onChange={set('description')}
          rows={2}
          error={grouped.top.description}
        />
        <ParamsBuilder
          schema={draft.params_schema as never}
          onChange={(s) => set('params_schema')(s)}
          error={grouped.top.params_schema}
        />
        <h2 className="h-sub">Steps</h2>
        {grouped.top.steps && (
          <div className="error-text" role="alert">
            {grouped.top.steps}
          </div>
        )}
        {draft.steps.map((step, i) => (
          <StepEditor
            key={keys[i] ?? i}
            step={step}
            index={i}
            count={draft.steps.length}
            problems={grouped.steps[i] ?? {}}
            onChange={(s) => setStep(i, s)}
            onRemove={() => removeStep(i)}
            onMove={(dir) => moveStep(i, dir)}
          />
        ))}
        <div className="row add-step">
          <label>
            New step kind{' '}
            <select value={addKind} onChange={(e) => setAddKind(e.target.value as StepKind)}>
              {STEP_KINDS.map((k) => (
                <option key={k}>{k}</option>
              ))}
            </select>
          </label>
          <button type="button" onClick={addStep}>
            + Add step
          </button>
        </div>
        <div
          className={`validation ${problems.length ? 'validation-bad' : 'validation-ok'}`}
          role="status"
          aria-live="polite"
          data-testid="validation"
        >
          {problems.length === 0 ? (
            '✓ Valid template'
          ) : (
            <>
              <strong>
                {problems.length} problem{problems.length === 1 ? '' : 's'}:
              </strong>
              <ul>
                {problems.map((p, i) => (
                  <li key={i}>
                    <code>{p.field}</code> {p.message}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
        <ErrorLine error={saveError} />
        <div className="form-actions">
          <button type="submit" className="btn-primary" disabled={!canOperate || saving}>
            {saving ? 'Saving…' : initial ? 'Save new version' : 'Create template'}
          </button>
          {!canOperate && <span className="muted small">Viewers cannot edit templates.</span>}
        </div>
      </form>
      {initial && canOperate && <PreviewPanel name={initial.name} schema={initial.params_schema} />}
    </section>
  );
}
