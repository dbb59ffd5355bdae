import { useQuery } from '@tanstack/react-query';
import { useConnection } from '../../lib/realtime.js';
import { href } from '../../lib/router.js';
import { clock } from '../../lib/format.js';
import { Empty, ErrorLine } from '../../components/Empty.js';

/** Every template (latest version) with its steps at a glance; run or edit from here. */
export function TemplatesPage() {
  const { client, canOperate } = useConnection();
  const templates = useQuery({ queryKey: ['templates'], queryFn: () => client.templates.list() });
  const list = templates.data?.templates ?? [];
  return (
    <section aria-labelledby="templates-title">
      <div className="page-head">
        <h1 id="templates-title">Templates</h1>
        <span className="spacer" />
        {canOperate && (
          <a className="btn btn-primary" href={href('templates', 'new')}>
            New template
          </a>
        )}
      </div>
      <ErrorLine error={templates.error} />
      {!templates.isLoading && list.length === 0 && (
        <Empty>
          No templates yet.{canOperate ? ' Create one, or apply files with `ocr templates apply -f`.' : ''}
        </Empty>
      )}
      <div className="table-wrap">
        <table className="table" aria-label="Templates">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Description</th>
              <th scope="col">Steps</th>
              <th scope="col">Lane</th>
              <th scope="col">Version</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((t) => (
              <tr key={t.name} data-template={t.name}>
                <td>
                  <strong>{t.name}</strong>
                </td>
                <td className="desc">{t.description}</td>
                <td>
                  {(t.steps as { kind: string; name: string }[]).map((s) => (
                    <span key={s.name} className="kind kind-step" title={s.name}>
                      {s.kind}
                    </span>
                  ))}
                </td>
                <td>{t.default_lane}</td>
                <td>v{t.version}</td>
                <td>{clock(t.created_at)}</td>
                <td className="controls">
                  {canOperate && (
                    <a
                      className="btn btn-primary btn-small"
                      href={href('templates', t.name, 'run')}
                      aria-label={`Run ${t.name}`}
                    >
                      Run
                    </a>
                  )}
                  <a
                    className="btn btn-small"
                    href={href('templates', t.name, 'edit')}
                    aria-label={`${canOperate ? 'Edit' : 'View'} ${t.name}`}
                  >
                    {canOperate ? 'Edit' : 'View'}
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
