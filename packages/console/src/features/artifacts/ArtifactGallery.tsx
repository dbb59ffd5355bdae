import { lazy, Suspense, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useConnection } from '../../lib/realtime.js';
import { href } from '../../lib/router.js';
import { bytes } from '../../lib/format.js';
import { Empty, ErrorLine } from '../../components/Empty.js';
const ArtifactViewer = lazy(() => import('./ArtifactViewer.js').then((m) => ({ default: m.ArtifactViewer })));

const ICON: Record<string, string> = {
  markdown: 'MD',
  json: '{ }',
  diff: '±',
  image: '▣',
  text: 'TXT',
  zip: 'ZIP',
  file: 'FILE',
};

/**
 * A run's artifacts as cards; the selected one opens in its viewer below. On the run page the selection
 * is in the URL; `embedded` (e.g. in the Spec Kit panel) keeps it in the component so the page stays.
 */
export function ArtifactGallery({
  runId,
  selected: routed,
  runStatus,
  embedded,
}: {
  runId: string;
  selected?: string;
  runStatus: string;
  embedded?: boolean;
}) {
  const { client } = useConnection();
  const [picked, setPicked] = useState<string | undefined>();
  const selected = embedded ? picked : routed;
  const list = useQuery({
    queryKey: ['artifacts', runId, runStatus],
    queryFn: () => client.runs.artifacts(runId),
  });
  const artifacts = list.data?.artifacts ?? [];
  const current = selected ?? artifacts[0]?.id;
  return (
    <div className="gallery-wrap">
      <ErrorLine error={list.error} />
      {!list.isLoading && artifacts.length === 0 && (
        <Empty>
          This run has no artifacts{runStatus === 'running' || runStatus === 'queued' ? ' yet' : ''}.
        </Empty>
      )}
      <ul className="gallery" aria-label="Artifacts">
        {artifacts.map((a) => (
          <li key={a.id}>
            <a
              className="art-card"
              href={href('runs', runId, 'artifacts', a.id)}
              aria-current={a.id === current ? 'true' : undefined}
              data-artifact={a.name}
              onClick={(e) => {
                if (!embedded) return;
                e.preventDefault();
                setPicked(a.id);
              }}
            >
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
      {current && (
        <Suspense fallback={<Empty>Loading viewer…</Empty>}>
          <ArtifactViewer key={current} id={current} />
        </Suspense>
      )}
    </div>
  );
}
