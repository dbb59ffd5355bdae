/**
 * A step printing 200 MB as fast as it can: the worker's memory stays bounded and both the start and the
 * end of the output survive, with a notice of what was dropped in between. Real processes, real pipes.
 */
import t from 'tap';
import { shellExecutor } from '../../src/executors/shell.js';
import { createTestStepContext } from '../fixtures/step-context.js';

const FLOOD_BYTES = 200_000_000;

/** Run a step while sampling this process's RSS; returns the peak growth over the start. */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; growth: number }> {
  globalThis.gc?.();
  const base = process.memoryUsage.rss();
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, growth: peak - base };
  } finally {
    clearInterval(sampler);
  }
}

for (const [label, flood] of [
  ['one endless line', `head -c ${FLOOD_BYTES} /dev/zero | tr '\\0' 'a'`],
  ['millions of short lines', `yes 'the same line of output, again and again' | head -c ${FLOOD_BYTES}`],
] as const) {
  t.test(`200 MB of output as ${label}: bounded memory, head and tail kept, drop recorded`, async (t) => {
    const { ctx, events } = createTestStepContext(t);
    const started = Date.now();
    const { value: result, growth } = await withPeakRss(() =>
      shellExecutor.run(
        { name: 'flood', kind: 'shell', script: `echo FIRST; ${flood}; echo; echo LAST >&2` },
        ctx,
      ),
    );
    t.equal(result.status, 'success');
    const logs = events.filter((e) => e.type === 'log');
    t.equal(logs[0]?.message, 'FIRST', 'the start survives');
    t.equal(logs.at(-1)?.message, 'LAST', 'the end survives');
    t.equal(logs.at(-1)?.data?.stream, 'stderr');
    const truncating = events.findIndex((e) => e.type === 'output.truncating');
    const truncated = events.findIndex((e) => e.type === 'output.truncated');
    t.ok(
      truncating > 0 && truncated > truncating,
      'a notice when truncation starts, and one with the count at the end',
    );
    const dropped = Number(events[truncated]!.data?.dropped_bytes);
    t.ok(dropped > FLOOD_BYTES - 3 * 1024 * 1024, `dropped ${dropped} bytes`);
    t.equal(events[truncated]!.data?.total_bytes, FLOOD_BYTES + 'FIRST\n\nLAST\n'.length);
    const keptBytes = logs.reduce((sum, e) => sum + Buffer.byteLength(e.message), 0);
    t.ok(keptBytes <= 2.1 * 1024 * 1024, `kept ${keptBytes} bytes of messages`);
    t.ok(growth < 120 * 1024 * 1024, `peak RSS growth ${Math.round(growth / 1024 / 1024)} MiB stays bounded`);
    t.comment(
      `${label}: ${Date.now() - started} ms, RSS +${Math.round(growth / 1024 / 1024)} MiB, ${events.length} events`,
    );
  });
}
