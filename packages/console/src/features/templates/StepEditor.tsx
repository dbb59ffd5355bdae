import { STEP_KINDS, type StepKind } from '../../lib/types.js';
import {
  Checkbox,
  JsonInput,
  LinesInput,
  MapInput,
  NumberInput,
  Select,
  TextArea,
  TextInput,
} from './fields.js';

export type StepDraft = Record<string, unknown> & { kind: StepKind; name: string };

const ARTIFACT_KINDS = ['text', 'markdown', 'json', 'diff', 'image', 'file', 'zip'] as const;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** A fresh step of a kind, with the fields that kind requires. */
export function newStep(kind: StepKind, name: string): StepDraft {
  switch (kind) {
    case 'shell':
      return { name, kind, script: 'echo "hello {{params.name}}"' };
    case 'docker':
      return { name, kind, image: 'alpine:3.20', command: ['echo', 'hello'] };
    case 'http':
      return { name, kind, method: 'GET', url: 'https://example.com/' };
    case 'mcp':
      return { name, kind, server: { command: 'npx', args: [] }, tool: 'tool_name', arguments: {} };
    default:
      return { name, kind };
  }
}

type Artifact = { path: string; kind: (typeof ARTIFACT_KINDS)[number]; name?: string };

/** Declared output files (`artifacts`, or docker `copy_out`) as rows. */
function ArtifactsInput({
  label,
  value,
  onChange,
}: {
  label: string;
  value: Artifact[] | undefined;
  onChange: (v: Artifact[] | undefined) => void;
}) {
  const rows = value ?? [];
  const set = (i: number, patch: Partial<Artifact>) =>
    onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <fieldset className="subfields">
      <legend>{label}</legend>
      {rows.map((r, i) => (
        <div className="row" key={i}>
          <TextInput label="Path" value={r.path} onChange={(v) => set(i, { path: v ?? '' })} />
          <Select
            label="Kind"
            value={r.kind}
            options={ARTIFACT_KINDS}
            onChange={(v) => set(i, { kind: v ?? 'file' })}
          />
          <TextInput label="Name" value={r.name} onChange={(v) => set(i, { name: v })} />
          <button
            type="button"
            className="btn-small"
            aria-label={`Remove ${label.toLowerCase()} ${i + 1}`}
            onClick={() => onChange(rows.length > 1 ? rows.filter((_, j) => j !== i) : undefined)}
          >
            ✕
          </button>
        </div>
      ))}
      <button
        type="button"
        className="btn-small"
        onClick={() => onChange([...rows, { path: '', kind: 'file' }])}
      >
        + Add
      </button>
    </fieldset>
  );
}

/** One step: the fields every kind shares, then the fields of its kind. `problems` are the API's, by field. */
export function StepEditor(props: {
  step: StepDraft;
  index: number;
  count: number;
  problems: Record<string, string>;
  onChange: (s: StepDraft) => void;
  onRemove: () => void;
  onMove: (dir: -1 | 1) => void;
}) {
  const { step, problems: p } = props;
  const set = (key: string) => (value: unknown) => {
    const next = { ...step } as Record<string, unknown>;
    if (value === undefined) delete next[key];
    else next[key] = value;
    props.onChange(next as StepDraft);
  };
  const s = step as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const server = (s.server ?? {}) as Record<string, unknown>;
  const serverMode = 'url' in server ? 'url' : 'command';
  return (
    <fieldset className="step" aria-label={`Step ${props.index + 1}: ${step.name}`} data-step={props.index}>
      <legend>
        Step {props.index + 1} <span className={`kind kind-step`}>{step.kind}</span>
      </legend>
      <div className="step-tools">
        <button
          type="button"
          className="btn-small"
          disabled={props.index === 0}
          onClick={() => props.onMove(-1)}
          aria-label={`Move step ${props.index + 1} up`}
        >
          ↑
        </button>
        <button
          type="button"
          className="btn-small"
          disabled={props.index === props.count - 1}
          onClick={() => props.onMove(1)}
          aria-label={`Move step ${props.index + 1} down`}
        >
          ↓
        </button>
        <button
          type="button"
          className="btn-small btn-danger-outline"
          disabled={props.count === 1}
          onClick={props.onRemove}
          aria-label={`Remove step ${props.index + 1}`}
        >
          Remove
        </button>
      </div>
      {p[''] && (
        <div className="error-text" role="alert">
          {p['']}
        </div>
      )}
      <div className="row">
        <TextInput
          label="Name"
          value={step.name}
          onChange={(v) => set('name')(v ?? '')}
          error={p.name}
          required
        />
        <Select
          label="Kind"
          value={step.kind}
          options={STEP_KINDS}
          onChange={(kind) => {
            if (kind && kind !== step.kind)
              props.onChange({
                ...newStep(kind, step.name),
                ...(s.timeout_s ? { timeout_s: s.timeout_s } : {}),
              });
          }}
        />
        <NumberInput
          label="Timeout (s)"
          step="any"
          value={s.timeout_s}
          onChange={set('timeout_s')}
          error={p.timeout_s}
        />
      </div>

      {step.kind === 'shell' && (
        <>
          <TextArea
            label="Script"
            mono
            rows={6}
            value={s.script}
            onChange={set('script')}
            error={p.script}
            hint="{{params.x}} becomes a single-quoted shell word; params are also in $OCR_PARAM_X"
          />
          <Select
            label="Shell"
            value={s.shell}
            options={['sh', 'bash'] as const}
            onChange={set('shell')}
            allowUnset="sh (default)"
          />
        </>
      )}

      {step.kind === 'docker' && (
        <>
          <div className="row">
            <TextInput label="Image" value={s.image} onChange={set('image')} error={p.image} required />
            <TextInput
              label="Network"
              value={s.network}
              onChange={set('network')}
              hint='"none" unless set'
              error={p.network}
            />
            <NumberInput
              label="Memory (MB)"
              value={s.memory_mb}
              onChange={set('memory_mb')}
              error={p.memory_mb}
            />
            <NumberInput label="CPUs" step="0.1" value={s.cpus} onChange={set('cpus')} error={p.cpus} />
          </div>
          <LinesInput
            label="Command"
            value={s.command}
            onChange={set('command')}
            hint="one argument per line"
            error={p.command}
          />
          <ArtifactsInput label="Copy out" value={s.copy_out} onChange={set('copy_out')} />
        </>
      )}

      {step.kind === 'http' && (
        <>
          <div className="row">
            <Select
              label="Method"
              value={s.method}
              options={METHODS}
              onChange={set('method')}
              allowUnset="GET (default)"
            />
            <TextInput label="URL" value={s.url} onChange={set('url')} error={p.url} required />
          </div>
          <MapInput label="Headers" sep=":" value={s.headers} onChange={set('headers')} error={p.headers} />
          <JsonInput label="Body (JSON)" value={s.body} onChange={set('body')} error={p.body} rows={4} />
          <div className="row">
            <TextInput
              label="Expected status"
              value={Array.isArray(s.expect_status) ? s.expect_status.join(', ') : undefined}
              hint="comma-separated; any 2xx if empty"
              error={p.expect_status}
              onChange={(v) =>
                set('expect_status')(
                  v
                    ? v
                        .split(',')
                        .map((x) => Number(x.trim()))
                        .filter((n) => Number.isFinite(n) && n > 0)
                    : undefined,
                )
              }
            />
            <TextInput
              label="Allowed hosts"
              value={Array.isArray(s.allow_hosts) ? s.allow_hosts.join(', ') : undefined}
              hint="comma-separated allowlist"
              error={p.allow_hosts}
              onChange={(v) =>
                set('allow_hosts')(
                  v
                    ? v
                        .split(',')
                        .map((x) => x.trim())
                        .filter(Boolean)
                    : undefined,
                )
              }
            />
          </div>
          <div className="row">
            <Checkbox
              label="Allow private addresses"
              value={s.allow_private}
              onChange={set('allow_private')}
            />
            <Checkbox
              label="Follow redirects"
              value={s.follow_redirects}
              onChange={set('follow_redirects')}
            />
          </div>
        </>
      )}

      {step.kind === 'mcp' && (
        <>
          <div className="row">
            <Select
              label="Server transport"
              value={serverMode}
              options={['command', 'url'] as const}
              onChange={(mode) =>
                set('server')(
                  mode === 'url' ? { url: 'http://127.0.0.1:3000/mcp' } : { command: 'npx', args: [] },
                )
              }
            />
            <TextInput label="Tool" value={s.tool} onChange={set('tool')} error={p.tool} required />
          </div>
          {serverMode === 'command' ? (
            <div className="row">
              <TextInput
                label="Server command"
                value={server.command as string}
                onChange={(v) => set('server')({ ...server, command: v ?? '' })}
                error={p['server.command'] ?? p.server}
              />
              <LinesInput
                label="Server args"
                value={server.args as string[]}
                onChange={(v) => set('server')({ ...server, args: v ?? [] })}
              />
              <MapInput
                label="Server environment"
                value={server.env as Record<string, string>}
                onChange={(v) =>
                  set('server')({
                    command: server.command,
                    ...(server.args ? { args: server.args } : {}),
                    ...(v ? { env: v } : {}),
                  })
                }
              />
            </div>
          ) : (
            <div className="row">
              <TextInput
                label="Server URL"
                value={server.url as string}
                onChange={(v) => set('server')({ ...server, url: v ?? '' })}
                error={p['server.url'] ?? p.server}
              />
              <MapInput
                label="Server headers"
                sep=":"
                value={server.headers as Record<string, string>}
                onChange={(v) => set('server')({ url: server.url, ...(v ? { headers: v } : {}) })}
              />
            </div>
          )}
          <JsonInput
            label="Arguments (JSON object)"
            value={s.arguments}
            onChange={set('arguments')}
            error={p.arguments}
            rows={4}
          />
        </>
      )}

      {step.kind === 'noop' && (
        <p className="muted small">Does nothing; useful as a placeholder or to test lanes and workers.</p>
      )}

      {(step.kind === 'spec-kit.generate' || step.kind === 'spec-kit.validate') && (
        <JsonInput
          label="Input (JSON object)"
          value={s.input}
          onChange={set('input')}
          error={p.input}
          rows={5}
          hint={
            step.kind === 'spec-kit.generate'
              ? 'what the built-in Spec Kit generator receives; {{params.x}} placeholders are rendered'
              : 'what the built-in Spec Kit validator receives'
          }
        />
      )}

      <details className="advanced" open={!!(s.env || s.artifacts)}>
        <summary>
          {step.kind === 'shell' || step.kind === 'docker' ? 'Environment and artifacts' : 'Artifacts'}
        </summary>
        {(step.kind === 'shell' || step.kind === 'docker') && (
          <MapInput label="Environment" value={s.env} onChange={set('env')} error={p.env} />
        )}
        {step.kind !== 'docker' && (
          <ArtifactsInput label="Artifacts" value={s.artifacts} onChange={set('artifacts')} />
        )}
      </details>
    </fieldset>
  );
}
