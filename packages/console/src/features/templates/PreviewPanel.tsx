import { useState } from 'react';
import { useConnection } from '../../lib/realtime.js';
import type { PreviewT } from '../../lib/types.js';
import { ErrorLine } from '../../components/Empty.js';
import { JsonTree } from '../artifacts/ArtifactViewer.js';
import { JsonInput } from './fields.js';
import { defaultsOf } from './schema-defaults.js';

/** The steps as the worker will see them for given params (secrets masked by the API). */
export function PreviewPanel({
  name,
  schema,
  params: given,
}: {
  name: string;
  schema: Record<string, unknown>;
  params?: Record<string, unknown>;
}) {
  const { client } = useConnection();
  const [params, setParams] = useState<unknown>(() => given ?? defaultsOf(schema));
  const [result, setResult] = useState<PreviewT | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async () => {
    setError(null);
    try {
      setResult(await client.templates.preview(name, (given ?? params ?? {}) as Record<string, unknown>));
    } catch (err) {
      setResult(null);
      setError(err);
    }
  };
  return (
    <section className="panel" aria-labelledby="preview-title">
      <h2 id="preview-title" className="h-sub">
        Preview rendered steps
      </h2>
      {!given && <JsonInput label="Params (JSON)" value={params} onChange={setParams} rows={4} />}
      <button type="button" onClick={() => void run()}>
        Preview
      </button>
      <ErrorLine error={error} />
      {result && (
        <div data-testid="preview">
          <JsonTree value={result.steps} />
        </div>
      )}
    </section>
  );
}
