import { useConnection } from '../../lib/realtime.js';
import { navigate, href } from '../../lib/router.js';
import type { CreateRunT, RunT } from '../../lib/types.js';
import type { Settled } from '../../lib/outbox.js';

/** Navigate only if the operator is still where they acted (an answer may come long after, or after offline). */
function openIfStillAt(hashAtAction: string, to: string): void {
  if (window.location.hash === hashAtAction) navigate(to);
}

/**
 * Cancel, retry and start, optimistic: the action is shown at once (the pending list, a "cancelling"
 * badge, a disabled button) and goes through the outbox, which sends it now or when the connection is
 * back, even after a reload. The API's answer confirms it or rolls it back with the API's message (see
 * ConnectionProvider); callers get that answer to move on from it.
 */
export function useRunActions() {
  const { outbox } = useConnection();

  const cancel = (run: RunT): Promise<Settled> => outbox.perform({ kind: 'cancel', run });

  const retry = async (run: RunT, open = true): Promise<Settled> => {
    const at = window.location.hash;
    const settled = await outbox.perform({ kind: 'retry', run });
    if (settled.ok && open) openIfStillAt(at, href('runs', settled.run.id));
    return settled;
  };

  const create = async (body: CreateRunT, onStarted?: (run: RunT) => void): Promise<Settled> => {
    const at = window.location.hash;
    const settled = await outbox.perform({ kind: 'create', body });
    if (settled.ok && onStarted && window.location.hash === at) onStarted(settled.run);
    return settled;
  };

  return { cancel, retry, create };
}
