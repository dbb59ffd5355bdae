import { useState } from 'react';
import { JsonInput } from './fields.js';

type ParamType = 'string' | 'number' | 'integer' | 'boolean';
interface ParamRow {
  name: string;
  type: ParamType;
  title?: string;
  description?: string;
  default?: string;
  enum?: string;
  required: boolean;
  secret: boolean;
}

type Schema = Record<string, unknown> & {
  properties?: Record<string, Record<string, unknown>>;
  required?: string[];
};
const SIMPLE_KEYS = new Set(['type', 'title', 'description', 'default', 'enum', 'format', 'writeOnly']);

/** The rows a schema is made of, or null when it uses more than the builder can show (nesting, refs…). */
function rowsOf(schema: Schema): ParamRow[] | null {
  const top = Object.keys(schema).filter(
    (k) => !['type', 'properties', 'required', 'additionalProperties', '$schema'].includes(k),
  );
  if (top.length > 0) return null;
  const rows: ParamRow[] = [];
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    if (
      !['string', 'number', 'integer', 'boolean'].includes(prop.type as string) ||
      Object.keys(prop).some((k) => !SIMPLE_KEYS.has(k))
    )
      return null;
    rows.push({
      name,
      type: prop.type as ParamType,
      title: prop.title as string | undefined,
      description: prop.description as string | undefined,
      default: prop.default === undefined ? undefined : String(prop.default),
      enum: Array.isArray(prop.enum) ? prop.enum.join(', ') : undefined,
      required: (schema.required ?? []).includes(name),
      secret: prop.writeOnly === true || prop.format === 'password',
    });
  }
  return rows;
}

function typed(type: ParamType, text: string): unknown {
  if (type === 'boolean') return text === 'true';
  if (type === 'number' || type === 'integer') return Number(text);
  return text;
}

function schemaOf(rows: ParamRow[]): Schema {
  const properties: Record<string, Record<string, unknown>> = {};
  for (const r of rows) {
    if (!r.name) continue;
    const p: Record<string, unknown> = { type: r.type };
    if (r.title) p.title = r.title;
    if (r.description) p.description = r.description;
    if (r.enum) p.enum = r.enum.split(',').map((x) => typed(r.type, x.trim()));
    if (r.default !== undefined && r.default !== '') p.default = typed(r.type, r.default);
    if (r.secret) Object.assign(p, { format: 'password', writeOnly: true });
    properties[r.name] = p;
  }
  const required = rows.filter((r) => r.name && r.required).map((r) => r.name);
  return {
    type: 'object',
    properties,
    ...(required.length ? { required } : {}),
    additionalProperties: false,
  };
}

/** The params JSON Schema: a row per param for the common case, raw JSON for anything richer. */
export function ParamsBuilder({
  schema,
  onChange,
  error,
}: {
  schema: Schema | undefined;
  onChange: (s: Schema | undefined) => void;
  error?: string;
}) {
  const rows = rowsOf(schema ?? { type: 'object', properties: {} });
  const [mode, setMode] = useState<'builder' | 'json'>(rows ? 'builder' : 'json');
  const current = rows ?? [];
  const update = (next: ParamRow[]) => onChange(schemaOf(next));
  const set = (i: number, patch: Partial<ParamRow>) =>
    update(current.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <fieldset className="params-builder">
      <legend>Params schema</legend>
      <div className="seg" role="radiogroup" aria-label="Params schema editor">
        <label className="chip">
          <input
            type="radio"
            name="pmode"
            checked={mode === 'builder'}
            disabled={!rows}
            onChange={() => setMode('builder')}
          />{' '}
          Builder
        </label>
        <label className="chip">
          <input type="radio" name="pmode" checked={mode === 'json'} onChange={() => setMode('json')} /> JSON
          Schema
        </label>
        {!rows && (
          <span className="muted small">This schema uses more than the builder shows; edit it as JSON.</span>
        )}
      </div>
      {error && (
        <div className="error-text" role="alert">
          {error}
        </div>
      )}
      {mode === 'json' || !rows ? (
        <JsonInput
          label="JSON Schema (draft 2020-12)"
          value={schema}
          onChange={(v) => onChange(v as Schema | undefined)}
          rows={10}
        />
      ) : (
        <>
          <table className="table params-table" aria-label="Params">
            <thead>
              <tr>
                <th>Name</th>
                <th>Type</th>
                <th>Title</th>
                <th>Default</th>
                <th>Choices</th>
                <th>Required</th>
                <th>Secret</th>
                <th>
                  <span className="sr-only">Remove</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {current.map((r, i) => (
                <tr key={i}>
                  <td>
                    <input
                      aria-label={`Param ${i + 1} name`}
                      value={r.name}
                      onChange={(e) => set(i, { name: e.target.value })}
                    />
                  </td>
                  <td>
                    <select
                      aria-label={`Param ${i + 1} type`}
                      value={r.type}
                      onChange={(e) => set(i, { type: e.target.value as ParamType })}
                    >
                      {['string', 'number', 'integer', 'boolean'].map((t) => (
                        <option key={t}>{t}</option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <input
                      aria-label={`Param ${i + 1} title`}
                      value={r.title ?? ''}
                      onChange={(e) => set(i, { title: e.target.value || undefined })}
                    />
                  </td>
                  <td>
                    <input
                      aria-label={`Param ${i + 1} default`}
                      value={r.default ?? ''}
                      onChange={(e) => set(i, { default: e.target.value || undefined })}
                    />
                  </td>
                  <td>
                    <input
                      aria-label={`Param ${i + 1} choices`}
                      placeholder="a, b, c"
                      value={r.enum ?? ''}
                      onChange={(e) => set(i, { enum: e.target.value || undefined })}
                    />
                  </td>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Param ${i + 1} required`}
                      checked={r.required}
                      onChange={(e) => set(i, { required: e.target.checked })}
                    />
                  </td>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Param ${i + 1} secret`}
                      checked={r.secret}
                      onChange={(e) => set(i, { secret: e.target.checked })}
                    />
                  </td>
                  <td>
                    <button
                      type="button"
                      className="btn-small"
                      aria-label={`Remove param ${i + 1}`}
                      onClick={() => update(current.filter((_, j) => j !== i))}
                    >
                      ✕
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <button
            type="button"
            className="btn-small"
            onClick={() =>
              update([
                ...current,
                { name: `param${current.length + 1}`, type: 'string', required: false, secret: false },
              ])
            }
          >
            + Add param
          </button>
        </>
      )}
    </fieldset>
  );
}
