import { lazy, Suspense, useRef, useState, type FormEvent } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import type { ArtifactSearchQuery } from '@ocr/client';
import { useConnection } from '../lib/realtime.js';
import { href } from '../lib/router.js';
import { bytes, clock, shortId } from '../lib/format.js';
import { Empty, ErrorLine } from '../components/Empty.js';
const ArtifactViewer = lazy(() =>
  import('../features/artifacts/ArtifactViewer.js').then((m) => ({ default: m.ArtifactViewer })),
);

const KINDS = ['text', 'markdown', 'json', 'diff', 'image', 'file', 'zip'] as const;
const PAGE = 25;

type Filters = {
  template: string;
  lane: string;
  kind: string;
  content_type: string;
  name: string;
  from: string;
  to: string;
  min_kb: string;
  max_kb: string;
};
const EMPTY: Filters = {
  template: '',
  lane: '',
  kind: '',
  content_type: '',
  name: '',
  from: '',
  to: '',
  min_kb: '',
  max_kb: '',
};

const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined);
const kb = (text: string) => (text.trim() === '' ? undefined : Math.round(Number(text) * 1024));

/**
 * Artifacts across runs: "the last plan.diff of template X", "every image lane B produced this week". Filters
 * by template, lane, kind, content type, name (a glob or a substring), creation date and size; the selected
 * artifact opens in the same viewers as on a run's page.
 */
export function ArtifactsPage({ query }: { query: URLSearchParams }) {
  const { client } = useConnection();
  const initial: Filters = {
    ...EMPTY,
    template: query.get('template') ?? '',
    lane: query.get('lane') ?? '',
    kind: query.get('kind') ?? '',
    name: query.get('name') ?? '',
  };
  const [draft, setDraft] = useState<Filters>(initial);
  // The latest draft, for handlers that fire before React re-renders (two selects changed in a row must
  // not apply the first one's stale draft).
  const latest = useRef(draft);
  const update = (next: Filters) => {
    latest.current = next;
    setDraft(next);
  };
  const [filters, setFilters] = useState<Filters>(initial);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [selected, setSelected] = useState<string | undefined>();
  const cursor = cursors[cursors.length - 1];
  const params: ArtifactSearchQuery = {
    template: filters.template || undefined,
    lane: filters.lane || undefined,
    kind: (filters.kind || undefined) as ArtifactSearchQuery['kind'],
    content_type: filters.content_type.trim() || undefined,
    name: filters.name.trim() || undefined,
    created_after: toIso(filters.from),
    created_before: toIso(filters.to),
    min_size: kb(filters.min_kb),
    max_size: kb(filters.max_kb),
    limit: PAGE,
    cursor,
  };
  const found = useQuery({
    queryKey: ['artifact-search', params],
    queryFn: () => client.artifacts.search(params),
    placeholderData: keepPreviousData,
  });
  const lanes = useQuery({ queryKey: ['lanes'], queryFn: () => client.lanes.list() });
  const templates = useQuery({ queryKey: ['templates'], queryFn: () => client.templates.list() });
  const apply = (next: Filters) => {
    setFilters(next);
    setCursors([undefined]);
    setSelected(undefined);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    apply(latest.current);
  };
  const set = (k: keyof Filters) => (e: { target: { value: string } }) =>
    update({ ...latest.current, [k]: e.target.value });
  const pick = (k: keyof Filters) => (e: { target: { value: string } }) => {
    const next = { ...latest.current, [k]: e.target.value };
    update(next);
    apply(next);
  };
  const list = found.data?.artifacts ?? [];

  return (
    <section aria-labelledby="artifacts-title">
      <div className="page-head">
        <h1 id="artifacts-title">Artifacts</h1>
      </div>
      <form className="filters" onSubmit={submit} aria-label="Filter artifacts">
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
          Lane
          <select name="lane" value={draft.lane} onChange={pick('lane')}>
            <option value="">any</option>
            {(lanes.data?.lanes ?? []).map((l) => (
              <option key={l.name}>{l.name}</option>
            ))}
          </select>
        </label>
        <label>
          Kind
          <select name="kind" value={draft.kind} onChange={pick('kind')}>
            <option value="">any</option>
            {KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label className="grow">
          Name
          <input
            type="search"
            name="name"
            placeholder="plan*.diff or a part of the name"
            value={draft.name}
            onChange={set('name')}
          />
        </label>
        <label>
          Content type
          <input
            type="search"
            name="content_type"
            placeholder="image/png"
            value={draft.content_type}
            onChange={set('content_type')}
          />
        </label>
        <label>
          Created from
          <input type="datetime-local" step="1" name="from" value={draft.from} onChange={set('from')} />
        </label>
        <label>
          to
          <input type="datetime-local" step="1" name="to" value={draft.to} onChange={set('to')} />
        </label>
        <label>
          Min kB
          <input
            type="number"
            min="0"
            step="any"
            name="min_kb"
            value={draft.min_kb}
            onChange={set('min_kb')}
          />
        </label>
        <label>
          Max kB
          <input
            type="number"
            min="0"
            step="any"
            name="max_kb"
            value={draft.max_kb}
            onChange={set('max_kb')}
          />
        </label>
        <button type="submit">Apply</button>
      </form>
      <ErrorLine error={found.error} />
      <div className="table-wrap">
        <table className="table" aria-label="Artifacts" aria-busy={found.isFetching}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Size</th>
              <th scope="col">Run</th>
              <th scope="col">Template</th>
              <th scope="col">Lane</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {list.map((a) => (
              <tr key={a.id} data-artifact={a.name} aria-selected={a.id === selected}>
                <td>
                  <button type="button" className="btn-link" onClick={() => setSelected(a.id)}>
                    {a.name}
                  </button>
                </td>
                <td>{a.kind}</td>
                <td>{bytes(a.size)}</td>
                <td>
                  <a href={href('runs', a.run_id, 'artifacts', a.id)}>
                    <code>{shortId(a.run_id)}</code>
                  </a>
                </td>
                <td>{a.template}</td>
                <td>{a.lane}</td>
                <td>{clock(a.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {!found.isLoading && list.length === 0 && <Empty>No artifacts match these filters.</Empty>}
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
          disabled={!found.data?.next_cursor}
          onClick={() => setCursors((c) => [...c, found.data!.next_cursor!])}
        >
          Older →
        </button>
      </div>
      {selected && (
        <Suspense fallback={<Empty>Loading viewer…</Empty>}>
          <ArtifactViewer key={selected} id={selected} />
        </Suspense>
      )}
    </section>
  );
}
