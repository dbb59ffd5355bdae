import { jitter, type Logger } from '@ocr/runtime';
import type { WorkerProtocol } from './protocol.js';

/** What the heartbeat loop needs from a live run. */
export interface Beating {
  runId: string;
  leaseToken: string;
  onCancelRequested(): void;
  onLeaseLost(): void;
}

/**
 * One heartbeat timer for all of a worker's runs: every interval (jittered ±20 % so a fleet does not beat
 * in lockstep) the live leases go to the API in one batched request. It runs on its own timer, apart
 * from output flushing and step work, so heavy output never starves it. A lease the API no longer
 * recognises stops its run at once.
 */
export class Heartbeats {
  private readonly live = new Map<string, Beating>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private beating: Promise<void> | undefined;

  constructor(
    private readonly api: WorkerProtocol,
    private intervalMs: number,
    private readonly log: Logger,
    private readonly onBeat: (ok: boolean) => void = () => undefined,
  ) {}

  add(run: Beating): void {
    this.live.set(run.runId, run);
    this.schedule();
  }

  /** The period the API asks for (claim replies carry it). */
  setInterval(ms: number): void {
    if (ms > 0) this.intervalMs = ms;
  }

  remove(runId: string): void {
    this.live.delete(runId);
  }

  get size(): number {
    return this.live.size;
  }

  /** Beat now (used right after a cancel might matter, and by tests). */
  async beat(): Promise<void> {
    if (this.beating) return this.beating;
    this.beating = this.send().finally(() => (this.beating = undefined));
    return this.beating;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.beat().finally(() => {
        if (this.live.size > 0) this.schedule();
      });
    }, jitter(this.intervalMs));
  }

  private async send(): Promise<void> {
    const runs = [...this.live.values()];
    if (runs.length === 0) return;
    try {
      const results = await this.api.heartbeat(
        runs.map((r) => ({ run_id: r.runId, lease_token: r.leaseToken })),
      );
      const byId = new Map(results.map((r) => [r.run_id, r]));
      for (const run of runs) {
        const result = byId.get(run.runId);
        if (!result) continue;
        if (!result.ok) {
          this.live.delete(run.runId);
          run.onLeaseLost();
        } else if (result.cancel_requested) {
          run.onCancelRequested();
        }
      }
      this.onBeat(true);
    } catch (err) {
      // A missed beat is survivable: the lease lasts several intervals. Keep trying on schedule.
      this.log.warn({ err, runs: runs.length }, 'heartbeat failed');
      this.onBeat(false);
    }
  }
}
