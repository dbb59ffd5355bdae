import { useEffect, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import ReactMarkdown from 'react-markdown';
import rehypeSanitize from 'rehype-sanitize';
import remarkGfm from 'remark-gfm';
import JsonView from '@uiw/react-json-view';
import { lightTheme } from '@uiw/react-json-view/light';
import { darkTheme } from '@uiw/react-json-view/dark';
import { useConnection } from '../../lib/realtime.js';
import { bytes } from '../../lib/format.js';
import { useDark } from '../../lib/use-dark.js';
import { ErrorLine, Empty } from '../../components/Empty.js';
import { useToast } from '../../components/Toasts.js';
import { artifactBlob, artifactSource, downloadArtifact, type ArtifactSource } from './artifact-content.js';
import { DiffView } from './DiffView.js';

const TEXT_KINDS = new Set(['text', 'markdown', 'json', 'diff']);

/** GitHub-flavoured markdown (tables, task lists) rendered through rehype-sanitize: no script, no event handlers, no javascript: links. */
export function MarkdownView({ text }: { text: string }) {
  return (
    <div className="markdown" data-viewer="markdown">
      <ReactMarkdown remarkPlugins={[remarkGfm]} rehypePlugins={[rehypeSanitize]}>
        {text}
      </ReactMarkdown>
    </div>
  );
}

export function JsonTree({ value }: { value: unknown }) {
  const dark = useDark();
  if (value === null || typeof value !== 'object')
    return (
      <pre className="text-view" data-viewer="json">
        {JSON.stringify(value, null, 2)}
      </pre>
    );
  return (
    <div className="json" data-viewer="json">
      <JsonView
        value={value as object}
        style={{ ...(dark ? darkTheme : lightTheme), background: 'transparent', fontSize: 13 }}
        collapsed={3}
        displayDataTypes={false}
        shortenTextAfterLength={200}
      />
    </div>
  );
}

function TextBody({ kind, text }: { kind: string; text: string }) {
  if (kind === 'markdown') return <MarkdownView text={text} />;
  if (kind === 'diff') return <DiffView text={text} />;
  if (kind === 'json') {
    try {
      return <JsonTree value={JSON.parse(text)} />;
    } catch {
      return (
        <>
          <div className="callout">Not valid JSON; shown as text.</div>
          <pre className="text-view">{text}</pre>
        </>
      );
    }
  }
  return (
    <pre className="text-view" data-viewer="text">
      {text}
    </pre>
  );
}

/** An image from a presigned URL as is; an inline one through a Blob URL (the API needs the token). */
function ImageBody({ source }: { source: ArtifactSource }) {
  const { client } = useConnection();
  const [url, setUrl] = useState<string | null>(source.inline ? null : source.url);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!source.inline) return;
    let revoke: string | undefined;
    artifactBlob(client, source).then((b) => setUrl((revoke = URL.createObjectURL(b))), setError);
    return () => {
      if (revoke) URL.revokeObjectURL(revoke);
    };
  }, [client, source]);
  if (error) return <ErrorLine error={error} />;
  if (!url) return <Empty>Loading image…</Empty>;
  return (
    <div className="image-view" data-viewer="image">
      <img src={url} alt={source.artifact.name} />
    </div>
  );
}

/** The viewer for one artifact, chosen by its kind, with a download for every kind. */
export function ArtifactViewer({ id }: { id: string }) {
  const { client } = useConnection();
  const toast = useToast();
  const source = useQuery({
    queryKey: ['artifact', id],
    queryFn: () => artifactSource(client, id),
    staleTime: 60_000,
  });
  const kind = source.data?.artifact.kind;
  const text = useQuery({
    queryKey: ['artifact-text', id],
    enabled: !!source.data && TEXT_KINDS.has(kind!) && source.data.artifact.status === 'ready',
    queryFn: async () => (await artifactBlob(client, source.data!)).text(),
    staleTime: Infinity,
  });
  if (source.error) return <ErrorLine error={source.error} />;
  if (!source.data) return <Empty>Loading artifact…</Empty>;
  const a = source.data.artifact;
  return (
    <div className="viewer" aria-label={`Artifact ${a.name}`} data-kind={a.kind}>
      <div className="viewer-head">
        <strong>{a.name}</strong>
        <span className={`kind kind-${a.kind}`}>{a.kind}</span>
        <span className="muted small">
          {bytes(a.size)} · {a.content_type} · sha256 <code title={a.sha256}>{a.sha256.slice(0, 12)}</code>
        </span>
        <span className="spacer" />
        <button
          type="button"
          onClick={() =>
            downloadArtifact(client, a.id).catch((e: Error) =>
              toast('error', `Download failed: ${e.message}`),
            )
          }
        >
          Download
        </button>
      </div>
      {a.status !== 'ready' ? (
        <Empty>Upload not complete yet.</Empty>
      ) : TEXT_KINDS.has(a.kind) ? (
        text.error ? (
          <ErrorLine error={text.error} />
        ) : text.data === undefined ? (
          <Empty>Loading…</Empty>
        ) : (
          <TextBody kind={a.kind} text={text.data} />
        )
      ) : a.kind === 'image' ? (
        <ImageBody source={source.data} />
      ) : (
        <div className="file-view" data-viewer="file">
          <p>
            No preview for {a.kind === 'zip' ? 'archives' : 'this file type'}: {a.name}, {bytes(a.size)}.
          </p>
          <button
            type="button"
            className="btn-primary"
            onClick={() =>
              downloadArtifact(client, a.id).catch((e: Error) =>
                toast('error', `Download failed: ${e.message}`),
              )
            }
          >
            Download {a.name}
          </button>
        </div>
      )}
    </div>
  );
}
