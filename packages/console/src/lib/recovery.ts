import type { LaneT } from './types.js';

export type Recovered = LaneT['recovered'];

/** Sum the lanes' recovered-run counts (the runboard's totals). */
export function sumRecovered(list: Recovered[]): Recovered {
  return list.reduce(
    (t, r) => ({
      success: t.success + r.success,
      error: t.error + r.error,
      cancelled: t.cancelled + r.cancelled,
      pending: t.pending + r.pending,
    }),
    { success: 0, error: 0, cancelled: 0, pending: 0 },
  );
}

/** Runs the sweeper recovered that have ended, and the share of them that succeeded (null: none ended). */
export function recoveryRate(r: Recovered): { ended: number; rate: number | null } {
  const ended = r.success + r.error + r.cancelled;
  return { ended, rate: ended === 0 ? null : r.success / ended };
}

export const percent = (rate: number | null) => (rate === null ? '—' : `${Math.round(rate * 100)}%`);

/** The breakdown, for a tooltip. */
export const recoveryDetail = (r: Recovered) =>
  `Runs requeued by the sweeper after losing their worker: ${r.success} succeeded, ${r.error} failed, ` +
  `${r.cancelled} cancelled, ${r.pending} not finished yet`;
