import { useConnection } from '../lib/realtime.js';

const LABEL = { open: 'Live', connecting: 'Reconnecting…', closed: 'Offline' } as const;

/** Realtime health: the WebSocket's state, reconnect count and actions waiting to be sent. */
export function ConnectionBadge() {
  const { status, reconnects, pending } = useConnection();
  const queued = pending.filter((a) => a.state === 'queued');
  return (
    <div
      className="conn"
      role="status"
      aria-live="polite"
      data-conn={status}
      title={`${reconnects} reconnect(s) this session`}
    >
      <span className={`dot conn-${status}`} aria-hidden="true" />
      <span>{LABEL[status]}</span>
      {queued.length > 0 && <span className="conn-queued">{queued.length} queued</span>}
    </div>
  );
}
