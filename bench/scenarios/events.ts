import { createClient } from '@ocr/client';
import type { BenchStack } from '../lib/stack.js';

/** Claim `count` runs through the API (as a worker) so events can be appended to them. */
export async function leasedRuns(
  stack: BenchStack,
  count: number,
): Promise<{ runId: string; lease: string }[]> {
  const worker = createClient({ baseUrl: stack.apiUrl, token: stack.workerToken });
  await stack.admin.runs.createBatch(
    Array.from({ length: count }, () => ({ template: 'bench-noop', lane: 'bench-events' })),
  );
  const { runs } = await worker.worker.claim({
    worker_id: 'bench-events',
    lanes: ['bench-events'],
    limit: count,
  });
  return runs.map((r) => ({ runId: r.run.id, lease: r.lease_token }));
}

/** Events/s appended through POST /v1/runs/:id/events, `batch` per request, one appender per run. */
export async function eventIngestion(
  stack: BenchStack,
  opts: { runs: number; batch: number; total: number },
): Promise<number> {
  await stack.reset();
  const worker = createClient({ baseUrl: stack.apiUrl, token: stack.workerToken, timeoutMs: 120_000 });
  const leases = await leasedRuns(stack, opts.runs);
  const perRun = Math.ceil(opts.total / opts.runs / opts.batch) * opts.batch;
  const line = 'x'.repeat(80);
  const started = performance.now();
  await Promise.all(
    leases.map(async ({ runId, lease }) => {
      for (let seq = 1; seq <= perRun; seq += opts.batch) {
        const events = Array.from({ length: opts.batch }, (_, i) => ({
          seq: seq + i,
          level: 'info' as const,
          type: 'log',
          message: line,
          data: { stream: 'stdout' },
        }));
        await worker.worker.appendEvents(runId, lease, events);
      }
    }),
  );
  return (perRun * opts.runs) / ((performance.now() - started) / 1000);
}
