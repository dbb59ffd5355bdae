import { useQuery } from '@tanstack/react-query';
import { useConnection } from '../../lib/realtime.js';
import { href } from '../../lib/router.js';
import { bytes } from '../../lib/format.js';
import { Empty, ErrorLine } from '../../components/Empty.js';
import { ArtifactViewer } from './ArtifactViewer.js';

const ICON: Record<string, string> = { markdown: 'MD', json: '{ }', diff: '±', image: '▣', text: 'TXT', zip: 'ZIP', file: 'FILE' };

/** A run's artifacts as cards; the selected one opens in its viewer below. */
export function ArtifactGallery({ runId, selected, runStatus }: { runId: string; selected?: string; runStatus: string }) {
  const { client } = useConnection();
  const list = useQuery({ queryKey: ['artifacts', runId, runStatus], queryFn: () => client.runs.artifacts(runId) });
  const artifacts = list.data?.artifacts ?? [];
  const current = selected ?? artifacts[0]?.id;
  return (
    <div className="gallery-wrap">
      <ErrorLine error={list.error} />
      {!list.isLoading && artifacts.length === 0 && <Empty>This run has no artifacts{runStatus === 'running' || runStatus === 'queued' ? ' yet' : ''}.</Empty>}
      <ul className="gallery" aria-label="Artifacts">
        {artifacts.map((a) => (
          <li key={a.id}>
            <a className="art-card" href={href('runs', runId, 'artifacts', a.id)} aria-current={a.id === current ? 'true' : undefined} data-artifact={a.name}>
              <span className={`art-icon kind-${a.kind}`} aria-hidden="true">
                {ICON[a.kind] ?? 'FILE'}
              </span>
              <span className="art-name">{a.name}</span>
              <span className="muted small">
                {a.kind} · {bytes(a.size)}
              </span>
            </a>
          </li>
        ))}
      </ul>
      {current && <ArtifactViewer key={current} id={current} />}
    </div>
  );
}
