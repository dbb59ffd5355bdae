import { useEffect, useId, useState, type ReactNode } from 'react';

/** Small labelled inputs for the template editor. Empty input means "not set" (undefined), not "". */

export function Field({
  label,
  hint,
  children,
  error,
}: {
  label: string;
  hint?: string;
  error?: string;
  children: (id: string) => ReactNode;
}) {
  const id = useId();
  return (
    <div className={`field${error ? ' field-error' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children(id)}
      {hint && <small className="muted">{hint}</small>}
      {error && (
        <small className="error-text" role="alert">
          {error}
        </small>
      )}
    </div>
  );
}

export function TextInput(props: {
  label: string;
  value: string | undefined;
  onChange: (v: string | undefined) => void;
  hint?: string;
  error?: string;
  placeholder?: string;
  required?: boolean;
}) {
  return (
    <Field label={props.label} hint={props.hint} error={props.error}>
      {(id) => (
        <input
          id={id}
          value={props.value ?? ''}
          required={props.required}
          placeholder={props.placeholder}
          onChange={(e) => props.onChange(e.target.value === '' ? undefined : e.target.value)}
        />
      )}
    </Field>
  );
}

export function NumberInput(props: {
  label: string;
  value: number | undefined;
  onChange: (v: number | undefined) => void;
  hint?: string;
  error?: string;
  step?: string;
}) {
  return (
    <Field label={props.label} hint={props.hint} error={props.error}>
      {(id) => (
        <input
          id={id}
          type="number"
          step={props.step ?? '1'}
          value={props.value ?? ''}
          onChange={(e) => props.onChange(e.target.value === '' ? undefined : Number(e.target.value))}
        />
      )}
    </Field>
  );
}

export function TextArea(props: {
  label: string;
  value: string | undefined;
  onChange: (v: string | undefined) => void;
  rows?: number;
  hint?: string;
  error?: string;
  mono?: boolean;
}) {
  return (
    <Field label={props.label} hint={props.hint} error={props.error}>
      {(id) => (
        <textarea
          id={id}
          className={props.mono ? 'mono' : undefined}
          rows={props.rows ?? 4}
          value={props.value ?? ''}
          spellCheck={false}
          onChange={(e) => props.onChange(e.target.value === '' ? undefined : e.target.value)}
        />
      )}
    </Field>
  );
}

export function Select<T extends string>(props: {
  label: string;
  value: T | undefined;
  options: readonly T[];
  onChange: (v: T | undefined) => void;
  allowUnset?: string;
}) {
  return (
    <Field label={props.label}>
      {(id) => (
        <select
          id={id}
          value={props.value ?? ''}
          onChange={(e) => props.onChange(e.target.value === '' ? undefined : (e.target.value as T))}
        >
          {props.allowUnset !== undefined && <option value="">{props.allowUnset}</option>}
          {props.options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function Checkbox(props: {
  label: string;
  value: boolean | undefined;
  onChange: (v: boolean | undefined) => void;
}) {
  return (
    <label className="check">
      <input
        type="checkbox"
        checked={!!props.value}
        onChange={(e) => props.onChange(e.target.checked ? true : undefined)}
      />{' '}
      {props.label}
    </label>
  );
}

/**
 * A JSON value edited as text: the text is kept while it does not parse (with the parse error shown), and
 * the value is only updated when it does.
 */
export function JsonInput(props: {
  label: string;
  value: unknown;
  onChange: (v: unknown) => void;
  rows?: number;
  hint?: string;
  error?: string;
}) {
  const [text, setText] = useState(() =>
    props.value === undefined ? '' : JSON.stringify(props.value, null, 2),
  );
  const [parseError, setParseError] = useState<string | undefined>();
  useEffect(() => {
    // Follow outside changes (e.g. the params builder) unless the text is mid-edit and invalid.
    if (parseError) return;
    const current = text.trim() === '' ? undefined : safeParse(text);
    if (JSON.stringify(current) !== JSON.stringify(props.value))
      setText(props.value === undefined ? '' : JSON.stringify(props.value, null, 2));
  }, [props.value]);
  return (
    <TextArea
      label={props.label}
      mono
      rows={props.rows ?? 5}
      hint={props.hint}
      error={parseError ?? props.error}
      value={text}
      onChange={(v) => {
        setText(v ?? '');
        if (!v || v.trim() === '') {
          setParseError(undefined);
          return props.onChange(undefined);
        }
        try {
          props.onChange(JSON.parse(v));
          setParseError(undefined);
        } catch (e) {
          setParseError(`not valid JSON: ${(e as Error).message}`);
        }
      }}
    />
  );
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return Symbol('invalid');
  }
}

/** A string list, one item per line. */
export function LinesInput(props: {
  label: string;
  value: string[] | undefined;
  onChange: (v: string[] | undefined) => void;
  hint?: string;
  rows?: number;
  error?: string;
}) {
  return (
    <TextArea
      label={props.label}
      mono
      rows={props.rows ?? 3}
      hint={props.hint ?? 'one per line'}
      error={props.error}
      value={props.value?.join('\n')}
      onChange={(v) => props.onChange(v === undefined ? undefined : v.split('\n'))}
    />
  );
}

/** A string map as `KEY=value` (or `Header: value`) lines. */
export function MapInput(props: {
  label: string;
  value: Record<string, string> | undefined;
  onChange: (v: Record<string, string> | undefined) => void;
  sep?: '=' | ':';
  hint?: string;
  error?: string;
}) {
  const sep = props.sep ?? '=';
  const [text, setText] = useState(() =>
    Object.entries(props.value ?? {})
      .map(([k, v]) => `${k}${sep === ':' ? ': ' : '='}${v}`)
      .join('\n'),
  );
  return (
    <TextArea
      label={props.label}
      mono
      rows={3}
      hint={props.hint ?? (sep === '=' ? 'NAME=value, one per line' : 'Name: value, one per line')}
      error={props.error}
      value={text}
      onChange={(v) => {
        setText(v ?? '');
        const entries = (v ?? '')
          .split('\n')
          .filter((l) => l.includes(sep))
          .map((l) => {
            const at = l.indexOf(sep);
            return [l.slice(0, at).trim(), l.slice(at + 1).trim()] as const;
          })
          .filter(([k]) => k !== '');
        props.onChange(entries.length ? Object.fromEntries(entries) : undefined);
      }}
    />
  );
}
