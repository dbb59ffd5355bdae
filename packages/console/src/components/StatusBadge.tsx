/** A run status as a coloured pill; `cancelling` is a running run with a cancel requested. */
export function StatusBadge({ status, cancelling }: { status: string; cancelling?: boolean }) {
  const shown = cancelling && (status === 'running' || status === 'queued') ? 'cancelling' : status;
  return (
    <span className={`badge st-${shown}`} data-status={shown}>
      {shown}
    </span>
  );
}
