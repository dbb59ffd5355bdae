import { useQueryClient } from '@tanstack/react-query';
import { useConnection, applyRun } from '../../lib/realtime.js';
import { useToast } from '../../components/Toasts.js';
import { navigate, href } from '../../lib/router.js';
import type { RunDetailT, RunT } from '../../lib/types.js';

/**
 * Cancel and retry, optimistic: the cached run changes at once and is restored if the API refuses.
 * Without a live connection the action waits in the outbox and is sent on reconnect.
 */
export function useRunActions() {
  const qc = useQueryClient();
  const { client, outbox } = useConnection();
  const toast = useToast();

  const cancel = (run: RunT) => {
    const before = qc.getQueryData<RunDetailT>(['run', run.id])?.run ?? run;
    // A queued run is cancelled at once by the API; a running one is asked to stop.
    applyRun(qc, {
      ...run,
      cancel_requested: true,
      ...(run.status === 'queued' ? { status: 'cancelled' as const } : {}),
    });
    void outbox.perform({
      label: `cancel ${run.id.slice(0, 8)}`,
      send: () => client.runs.cancel(run.id),
      onDone: (res) => {
        applyRun(qc, (res as { run: RunT }).run);
        toast('info', `Cancel requested for ${run.template} ${run.id.slice(0, 8)}`);
      },
      onError: (err) => {
        applyRun(qc, before);
        toast('error', `Cancel failed: ${(err as Error).message}`);
      },
    });
  };

  const retry = (run: RunT, open = true) => {
    void outbox.perform({
      label: `retry ${run.id.slice(0, 8)}`,
      send: () => client.runs.retry(run.id),
      onDone: (res) => {
        const created = (res as { run: RunT }).run;
        void qc.invalidateQueries({ queryKey: ['runs'] });
        toast('info', `Retry started: ${created.id.slice(0, 8)}`);
        if (open) navigate(href('runs', created.id));
      },
      onError: (err) => toast('error', `Retry failed: ${(err as Error).message}`),
    });
  };

  return { cancel, retry };
}
