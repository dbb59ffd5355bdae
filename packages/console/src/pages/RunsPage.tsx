import { useRef, useState, type FormEvent } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import type { ListRunsParams } from '@ocr/client';
import { useConnection } from '../lib/realtime.js';
import { href } from '../lib/router.js';
import { between, clock, duration, shortId } from '../lib/format.js';
import { useNow } from '../lib/use-now.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { Empty, ErrorLine } from '../components/Empty.js';
import { RunControls } from '../features/runs/RunControls.js';
import { compareHref } from '../features/compare/CompareWith.js';

const STATUSES = ['queued', 'scheduled', 'running', 'success', 'error', 'cancelled'];
const PAGE = 25;

type Filters = {
  status: string;
  lane: string;
  template: string;
  from: string;
  to: string;
  q: string;
  params: string;
};

const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined);

/**
 * `env=prod, build=42` as the API's `params` filter (a JSON object the run's params must contain): a value
 * that reads as JSON (a number, true, null, a quoted string) is that value, anything else a string.
 */
export function paramsFilter(text: string): string | undefined {
  const pairs = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (pairs.length === 0) return undefined;
  const object: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const key = (at < 0 ? pair : pair.slice(0, at)).trim();
    const raw = at < 0 ? '' : pair.slice(at + 1).trim();
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a bare word: the string itself
    }
    object[key] = value;
  }
  return JSON.stringify(object);
}

/** Run history: filters by status, lane, template and creation date; search by id or params; keyset pages. */
export function RunsPage({ query }: { query: URLSearchParams }) {
  const { client } = useConnection();
  const now = useNow(5000);
  const initial: Filters = {
    status: query.get('status') ?? '',
    lane: query.get('lane') ?? '',
    template: query.get('template') ?? '',
    from: '',
    to: '',
    q: query.get('q') ?? '',
    params: query.get('params') ?? '',
  };
  const [draft, setDraft] = useState<Filters>(initial);
  // The latest draft, for handlers that fire before React re-renders (a field typed and Apply pressed at
  // once, or two selects changed in a row, must not apply a stale draft).
  const latest = useRef(draft);
  const update = (next: Filters) => {
    latest.current = next;
    setDraft(next);
  };
  const [filters, setFilters] = useState<Filters>(initial);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  // Rows ticked for comparison, oldest tick first; a third tick drops the oldest.
  const [picked, setPicked] = useState<string[]>([]);
  const toggle = (id: string) =>
    setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id].slice(-2)));
  const cursor = cursors[cursors.length - 1];

  const params: ListRunsParams = {
    status: (filters.status || undefined) as ListRunsParams['status'],
    lane: filters.lane || undefined,
    template: filters.template || undefined,
    created_after: toIso(filters.from),
    created_before: toIso(filters.to),
    q: filters.q.trim() || undefined,
    params: paramsFilter(filters.params),
    limit: PAGE,
    cursor,
  };
  const runs = useQuery({
    queryKey: ['runs', params],
    queryFn: () => client.runs.list(params),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
  const lanes = useQuery({ queryKey: ['lanes'], queryFn: () => client.lanes.list() });
  const templates = useQuery({ queryKey: ['templates'], queryFn: () => client.templates.list() });

  const apply = (e?: FormEvent) => {
    e?.preventDefault();
    setFilters(latest.current);
    setCursors([undefined]);
  };
  const set = (k: keyof Filters) => (e: { target: { value: string } }) =>
    update({ ...latest.current, [k]: e.target.value });
  // A choice in a select applies at once, together with whatever else is in the form.
  const pick = (k: keyof Filters) => (e: { target: { value: string } }) => {
    const next = { ...latest.current, [k]: e.target.value };
    update(next);
    setFilters(next);
    setCursors([undefined]);
  };
  const list = runs.data?.runs ?? [];

  return (
    <section aria-labelledby="runs-title">
      <div className="page-head">
        <h1 id="runs-title">Runs</h1>
        <span className="spacer" />
        <span className="muted small" aria-live="polite">
          {picked.length === 0 ? 'Tick two runs to compare them' : `${picked.length} of 2 ticked`}
        </span>
        {picked.length === 2 ? (
          <a className="btn btn-primary" href={compareHref(picked[0]!, picked[1]!)}>
            Compare
          </a>
        ) : (
          <button type="button" disabled>
            Compare
          </button>
        )}
      </div>
      <form className="filters" onSubmit={apply} aria-label="Filter runs">
        <label>
          Status
          <select name="status" value={draft.status} onChange={pick('status')}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Lane
          <select name="lane" value={draft.lane} onChange={pick('lane')}>
            <option value="">any</option>
            {(lanes.data?.lanes ?? []).map((l) => (
              <option key={l.name}>{l.name}</option>
            ))}
          </select>
        </label>
        <label>
          Template
          <select name="template" value={draft.template} onChange={pick('template')}>
            <option value="">any</option>
            {(templates.data?.templates ?? []).map((t) => (
              <option key={t.name}>{t.name}</option>
            ))}
          </select>
        </label>
        <label>
          Created from
          <input type="datetime-local" step="1" name="from" value={draft.from} onChange={set('from')} />
        </label>
        <label>
          to
          <input type="datetime-local" step="1" name="to" value={draft.to} onChange={set('to')} />
        </label>
        <label className="grow">
          Search
          <input
            type="search"
            name="q"
            placeholder="run id or a param value"
            value={draft.q}
            onChange={set('q')}
          />
        </label>
        <label>
          Params
          <input
            type="search"
            name="params"
            placeholder="env=prod, build=42"
            value={draft.params}
            onChange={set('params')}
          />
        </label>
        <button type="submit">Apply</button>
      </form>
      <ErrorLine error={runs.error} />
      <div className="table-wrap">
        <table className="table" aria-label="Runs" aria-busy={runs.isFetching}>
          <thead>
            <tr>
              <th scope="col">
                <span className="sr-only">Compare</span>
              </th>
              <th scope="col">Status</th>
              <th scope="col">Run</th>
              <th scope="col">Template</th>
              <th scope="col">Lane</th>
              <th scope="col">Attempt</th>
              <th scope="col">Created</th>
              <th scope="col">Duration</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((run) => (
              <tr key={run.id} data-run={run.id}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Compare run ${shortId(run.id)}`}
                    checked={picked.includes(run.id)}
                    onChange={() => toggle(run.id)}
                  />
                </td>
                <td>
                  <StatusBadge status={run.status} cancelling={run.cancel_requested} />
                </td>
                <td>
                  <a href={href('runs', run.id)}>
                    <code>{shortId(run.id)}</code>
                  </a>
                </td>
                <td>
                  {run.template} <span className="muted">v{run.template_version}</span>
                </td>
                <td>{run.lane}</td>
                <td>
                  {run.attempt}/{run.max_attempts}
                </td>
                <td>{clock(run.created_at)}</td>
                <td>{duration(between(run.started_at, run.finished_at, now))}</td>
                <td>
                  <RunControls run={run} compact />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!runs.isLoading && list.length === 0 && <Empty>No runs match these filters.</Empty>}
      </div>
      <div className="pager">
        <button
          type="button"
          disabled={cursors.length === 1}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          ← Newer
        </button>
        <span className="muted">Page {cursors.length}</span>
        <button
          type="button"
          disabled={!runs.data?.next_cursor}
          onClick={() => setCursors((c) => [...c, runs.data!.next_cursor!])}
        >
          Older →
        </button>
      </div>
    </section>
  );
}
