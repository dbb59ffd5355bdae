import { useConnection } from '../lib/realtime.js';
import { href } from '../lib/router.js';
import { describe } from '../lib/outbox.js';

/**
 * Actions the API has not answered yet, on every page: shown the moment they are taken (optimistic), gone
 * when the API confirms them or refuses them (the refusal is a toast with the API's message). Another open
 * tab's queued actions are listed too (this tab sends them if that tab is closed first).
 */
export function PendingActions() {
  const { pending } = useConnection();
  if (pending.length === 0) return null;
  return (
    <ul className="pending" aria-label="Pending actions">
      {pending.map((a) => (
        <li key={a.key} data-kind={a.kind} data-state={a.state} data-elsewhere={a.elsewhere ? '' : undefined}>
          <span className="pending-dot" aria-hidden="true" />
          {a.kind === 'create' ? (
            <span>{describe(a)}</span>
          ) : (
            <a href={href('runs', a.run.id)}>{describe(a)}</a>
          )}
          <span className="muted small">
            {a.state === 'sending'
              ? 'sending…'
              : a.elsewhere
                ? 'queued in another open tab, which sends it'
                : 'queued: sent when the connection is back'}
          </span>
        </li>
      ))}
    </ul>
  );
}
