import { useState } from 'react';
import { useConnection } from '../../lib/realtime.js';
import { href } from '../../lib/router.js';
import type { RunT } from '../../lib/types.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { useRunActions } from './use-run-actions.js';

/** Cancel (confirmed), retry, logs and artifacts for one run; hidden controls for viewers. */
export function RunControls({ run, compact }: { run: RunT; compact?: boolean }) {
  const { canOperate } = useConnection();
  const { cancel, retry } = useRunActions();
  const [confirming, setConfirming] = useState(false);
  const active = run.status === 'queued' || run.status === 'running';
  const retryable = run.status === 'error' || run.status === 'cancelled';
  return (
    <div className="controls" role="group" aria-label={`Actions for run ${run.id.slice(0, 8)}`}>
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
          {run.cancel_requested ? 'Cancelling…' : 'Cancel'}
        </button>
      )}
      {canOperate && retryable && (
        <button type="button" onClick={() => retry(run)}>
          Retry
        </button>
      )}
      <ConfirmDialog
        open={confirming}
        title="Cancel this run?"
        confirmLabel="Cancel run"
        danger
        onConfirm={() => cancel(run)}
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
