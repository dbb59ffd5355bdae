import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { createTwoFilesPatch } from 'diff';
import type { RunComparison } from '@ocr/contracts';
import { useConnection } from '../../lib/realtime.js';
import { href } from '../../lib/router.js';
import { between, bytes, clock, duration, shortId } from '../../lib/format.js';
import { StatusBadge } from '../../components/StatusBadge.js';
import { Empty, ErrorLine } from '../../components/Empty.js';
import { DiffView } from '../artifacts/DiffView.js';
import { artifactBlob, artifactSource } from '../artifacts/artifact-content.js';
import type { RunT } from '../../lib/types.js';

type Side = RunComparison['steps'][number]['a'];
type ArtifactPair = RunComparison['artifacts'][number];

const TEXT_KINDS = new Set(['text', 'markdown', 'json', 'diff']);

/** Step durations are often under a second: milliseconds there, the usual figure above. */
function stepDuration(ms: number | null): string {
  if (ms === null) return '—';
  return ms < 1000 ? `${ms} ms` : duration(ms);
}

const show = (v: unknown) => (v === undefined ? '—' : JSON.stringify(v));

/** A unified diff of two texts for the side-by-side viewer; null when they are equal. */
export function textDiff(name: string, a: string, b: string): string | null {
  if (a === b) return null;
  const end = (s: string) => (s === '' || s.endsWith('\n') ? s : s + '\n');
  return createTwoFilesPatch(`a/${name}`, `b/${name}`, end(a), end(b), '', '', { context: 3 });
}

function RunHead({ label, run }: { label: string; run: RunT }) {
  return (
    <div className="cmp-run" data-side={label}>
      <div className="cmp-run-title">
        <span className="cmp-side">{label.toUpperCase()}</span>
        <a href={href('runs', run.id)}>
          <code>{shortId(run.id)}</code>
        </a>
        <StatusBadge status={run.status} cancelling={run.cancel_requested} />
      </div>
      <div className="muted small">
        {run.template} v{run.template_version} · lane {run.lane} · attempt {run.attempt} · created{' '}
        {clock(run.created_at)} · took {duration(between(run.started_at, run.finished_at))}
      </div>
    </div>
  );
}

function StepCell({ side }: { side: Side }) {
  if (!side) return <td className="muted">not run</td>;
  return (
    <td>
      <StatusBadge status={side.status} /> <span data-fig="duration">{stepDuration(side.duration_ms)}</span>
      {side.exit_code !== null && <span className="muted small"> exit {side.exit_code}</span>}
    </td>
  );
}

/** Both artifacts' text, fetched on demand (they may be large), as a diff. */
function ArtifactDiff({ pair }: { pair: ArtifactPair }) {
  const { client } = useConnection();
  const diff = useQuery({
    queryKey: ['artifact-diff', pair.a!.id, pair.b!.id],
    queryFn: async () => {
      const [a, b] = await Promise.all(
        [pair.a!, pair.b!].map(async (x) =>
          (await artifactBlob(client, await artifactSource(client, x.id))).text(),
        ),
      );
      return textDiff(pair.name, a!, b!);
    },
  });
  if (diff.error) return <ErrorLine error={diff.error} />;
  if (diff.isLoading) return <Empty>Loading both artifacts…</Empty>;
  return diff.data ? <DiffView text={diff.data} /> : <Empty>Same content.</Empty>;
}

function ArtifactRow({ pair }: { pair: ArtifactPair }) {
  const [open, setOpen] = useState(false);
  const textual = !!pair.a && !!pair.b && TEXT_KINDS.has(pair.a.kind) && TEXT_KINDS.has(pair.b.kind);
  const state = !pair.a ? 'only in B' : !pair.b ? 'only in A' : pair.same ? 'same' : 'differs';
  return (
    <>
      <tr data-artifact={pair.name} data-state={state}>
        <th scope="row">{pair.name}</th>
        <td>{pair.a ? bytes(pair.a.size) : '—'}</td>
        <td>{pair.b ? bytes(pair.b.size) : '—'}</td>
        <td>
          <span className={`cmp-state cmp-${state.replace(/ /g, '-')}`}>{state}</span>
        </td>
        <td>
          {state === 'differs' && textual && (
            <button type="button" className="btn-small" aria-expanded={open} onClick={() => setOpen(!open)}>
              {open ? 'Hide diff' : `Diff ${pair.name}`}
            </button>
          )}
        </td>
      </tr>
      {open && (
        <tr className="cmp-detail">
          <td colSpan={5}>
            <ArtifactDiff pair={pair} />
          </td>
        </tr>
      )}
    </>
  );
}

/** Two runs of a template side by side, from GET /v1/runs/compare. */
export function ComparePage({ a, b }: { a: string | null; b: string | null }) {
  const { client } = useConnection();
  const cmp = useQuery({
    queryKey: ['compare', a, b],
    queryFn: () => client.runs.compare(a!, b!),
    enabled: !!a && !!b,
    retry: false,
  });
  const head = (
    <div className="page-head">
      <h1 id="compare-title">
        <a href={href('runs')} className="muted">
          Runs
        </a>{' '}
        / Compare
      </h1>
    </div>
  );
  if (!a || !b)
    return (
      <section aria-labelledby="compare-title">
        {head}
        <Empty>
          Pick two runs: tick two rows in <a href={href('runs')}>Runs</a>, or use “Compare with…” on a run.
        </Empty>
      </section>
    );
  if (cmp.error)
    return (
      <section aria-labelledby="compare-title">
        {head}
        <div className="callout callout-error" role="alert" aria-label="Comparison refused">
          <strong>These runs cannot be compared.</strong> <ErrorLine error={cmp.error} />
        </div>
      </section>
    );
  if (!cmp.data) return <Empty>Loading both runs…</Empty>;
  const c = cmp.data;
  const changed = c.params.filter((p) => !p.same).length;
  return (
    <section aria-labelledby="compare-title" className="compare">
      {head}
      <div className="cmp-runs">
        <RunHead label="a" run={c.a} />
        <RunHead label="b" run={c.b} />
      </div>
      {c.output_truncated && (
        <div className="callout" role="note">
          A run has more than 5,000 log lines: the output below is its first 5,000.
        </div>
      )}

      <h2>
        Params <span className="muted small">{changed === 0 ? 'identical' : `${changed} differ`}</span>
      </h2>
      <div className="table-wrap">
        <table className="table" aria-label="Params">
          <thead>
            <tr>
              <th scope="col">Param</th>
              <th scope="col">A</th>
              <th scope="col">B</th>
            </tr>
          </thead>
          <tbody>
            {c.params.map((p) => (
              <tr
                key={p.key}
                data-param={p.key}
                data-same={p.same}
                className={p.same ? 'row-dim' : 'cmp-changed'}
              >
                <th scope="row">
                  <code>{p.key}</code>
                </th>
                <td>
                  <code>{show(p.a)}</code>
                </td>
                <td>
                  <code>{show(p.b)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {c.params.length === 0 && <Empty>Neither run has params.</Empty>}
      </div>

      <h2>Steps</h2>
      <div className="table-wrap">
        <table className="table" aria-label="Steps">
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">A</th>
              <th scope="col">B</th>
              <th scope="col">Output</th>
            </tr>
          </thead>
          <tbody>
            {c.steps.map((s) => {
              const same = !!s.a && !!s.b && s.a.output === s.b.output;
              return (
                <tr key={s.name} data-step={s.name}>
                  <th scope="row">{s.name}</th>
                  <StepCell side={s.a} />
                  <StepCell side={s.b} />
                  <td>{same ? 'same' : <a href={`#step-${encodeURIComponent(s.name)}`}>differs</a>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {c.steps.map((s) => {
        const diff = textDiff(s.name, s.a?.output ?? '', s.b?.output ?? '');
        if (!diff) return null;
        return (
          <div
            key={s.name}
            className="cmp-output"
            id={`step-${encodeURIComponent(s.name)}`}
            data-output={s.name}
          >
            <h3>
              Output of <code>{s.name}</code>
            </h3>
            <DiffView text={diff} />
          </div>
        );
      })}

      <h2>Artifacts</h2>
      <div className="table-wrap">
        <table className="table" aria-label="Artifacts compared">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">A</th>
              <th scope="col">B</th>
              <th scope="col">State</th>
              <th scope="col">
                <span className="sr-only">Diff</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {c.artifacts.map((pair) => (
              <ArtifactRow key={pair.name} pair={pair} />
            ))}
          </tbody>
        </table>
        {c.artifacts.length === 0 && <Empty>Neither run has artifacts.</Empty>}
      </div>
    </section>
  );
}
