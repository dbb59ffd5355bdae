import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useConnection } from '../../lib/realtime.js';
import { clock, shortId } from '../../lib/format.js';
import { StatusBadge } from '../../components/StatusBadge.js';
import { ErrorLine } from '../../components/Empty.js';
import type { RunT } from '../../lib/types.js';

/** `#/compare?a=…&b=…`: the Compare page's address for two runs. */
export const compareHref = (a: string, b: string) => `#/compare?${new URLSearchParams({ a, b }).toString()}`;

/** "Compare with…" on a run page: the template's recent runs, one click from a side-by-side view. */
export function CompareWith({ run }: { run: RunT }) {
  const { client } = useConnection();
  const [open, setOpen] = useState(false);
  const recent = useQuery({
    queryKey: ['runs', { template: run.template, limit: 20 }],
    queryFn: () => client.runs.list({ template: run.template, limit: 20 }),
    enabled: open,
  });
  const others = (recent.data?.runs ?? []).filter((r) => r.id !== run.id);
  return (
    <div className="cmp-with" onKeyDown={(e) => e.key === 'Escape' && setOpen(false)}>
      <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
        Compare with…
      </button>
      {open && (
        <div className="cmp-menu" role="dialog" aria-label={`Compare with a recent run of ${run.template}`}>
          <ErrorLine error={recent.error} />
          {recent.isLoading && <div className="muted small">Loading recent runs…</div>}
          {recent.data && others.length === 0 && (
            <div className="muted small">No other run of {run.template} yet.</div>
          )}
          <ul>
            {others.map((r) => (
              <li key={r.id}>
                <a href={compareHref(run.id, r.id)} data-run={r.id}>
                  <code>{shortId(r.id)}</code> <StatusBadge status={r.status} />{' '}
                  <span className="muted small">{clock(r.created_at)}</span>
                </a>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
