import { useState } from 'react';
import { pendingOn, useConnection, withPending } from '../../lib/realtime.js';
import { href } from '../../lib/router.js';
import type { RunT } from '../../lib/types.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { useRunActions } from './use-run-actions.js';

/**
 * Cancel (confirmed), retry, logs and artifacts for one run; hidden controls for viewers. A cancel or retry
 * on its way to the API shows at once ("Cancelling…", "Retrying…"; "queued" while offline).
 */
export function RunControls({ run: cached, compact }: { run: RunT; compact?: boolean }) {
  const { canOperate, pending } = useConnection();
  const { cancel, retry } = useRunActions();
  const [confirming, setConfirming] = useState(false);
  const run = withPending(cached, pending);
  const cancelling = pendingOn(pending, 'cancel', run.id);
  const retrying = pendingOn(pending, 'retry', run.id);
  const active = run.status === 'queued' || run.status === 'running';
  const retryable = run.status === 'error' || run.status === 'cancelled';
  return (
    <div
      className="controls"
      role="group"
      aria-label={`Actions for run ${run.id.slice(0, 8)}`}
      data-pending={(cancelling ?? retrying)?.state}
    >
      <a className="btn" href={href('runs', run.id, 'logs')}>
        Logs
      </a>
      {!compact && (
        <a className="btn" href={href('runs', run.id, 'artifacts')}>
          Artifacts
        </a>
      )}
      {canOperate && active && (
        <button
          type="button"
          className="btn-danger-outline"
          disabled={run.cancel_requested}
          onClick={() => setConfirming(true)}
        >
          {cancelling?.state === 'queued' ? 'Cancel queued' : run.cancel_requested ? 'Cancelling…' : 'Cancel'}
        </button>
      )}
      {canOperate && retryable && (
        <button type="button" disabled={!!retrying} onClick={() => void retry(run)}>
          {retrying?.state === 'queued' ? 'Retry queued' : retrying ? 'Retrying…' : 'Retry'}
        </button>
      )}
      <ConfirmDialog
        open={confirming}
        title="Cancel this run?"
        confirmLabel="Cancel run"
        danger
        onConfirm={() => void cancel(cached)}
        onClose={() => setConfirming(false)}
      >
        <p>
          <strong>{run.template}</strong> <code>{run.id}</code> on lane {run.lane} is {run.status}.
        </p>
        <p className="muted">
          {run.status === 'queued'
            ? 'It will be removed from the queue.'
            : 'The worker is told to stop it: SIGTERM to its processes, then SIGKILL after the grace period.'}
        </p>
      </ConfirmDialog>
    </div>
  );
}
