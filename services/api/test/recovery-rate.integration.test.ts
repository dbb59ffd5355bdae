/**
 * Recovery success rate (T6.4.2): runs the sweeper requeues after losing their worker (the sweeper's own
 * findStaleRuns/sweepStaleRuns against the test's Postgres) are counted per lane by how they end — in
 * GET /v1/lanes (`recovered`) and on /metrics (`ocr_lane_recovered_runs`) — while ordinary runs are not;
 * the count reads a partial index however many other runs the table holds (EXPLAIN).
 */
import t from 'tap';
import { enqueueRuns, explainLaneOverview, findStaleRuns, sweepStaleRuns, vacuumAnalyze } from '@ocr/db';
import { startStack } from '@ocr/testkit';

const FILLER = 20_000;

t.test('runs recovered by the sweeper are counted by how they end', async (t) => {
  const stack = await startStack(t, { s3: false });
  const template = await stack.client.templates.create({
    name: 'flaky',
    default_lane: 'R',
    // No backoff: a requeued run is due at once, so the test claims it again without waiting.
    retry: { max_attempts: 1, backoff: { initial_s: 0, factor: 1, max_s: 0 } },
    steps: [{ name: 's', kind: 'noop' }],
  });
  const { client: worker } = await stack.tokenFor('worker');
  const lane = async () => (await stack.client.lanes.list()).lanes.find((l) => l.name === 'R')!.recovered;
  const scraped = async () => {
    const res = await fetch(`${stack.apiUrl}/metrics`, {
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    const figures: Record<string, number> = {};
    for (const m of (await res.text()).matchAll(
      /^ocr_lane_recovered_runs\{lane="R",outcome="(\w+)"\} (\d+)$/gm,
    ))
      figures[m[1]!] = Number(m[2]);
    return figures;
  };
  /** /metrics reads lanes at most every 5 s: poll until it shows `want`. */
  const metricsShow = async (want: Record<string, number>) => {
    const deadline = Date.now() + 20_000;
    let got: Record<string, number> = {};
    while (Date.now() < deadline) {
      got = await scraped();
      if (JSON.stringify(got) === JSON.stringify(want)) return got;
      await new Promise((r) => setTimeout(r, 250));
    }
    return got;
  };

  const runs: string[] = [];
  for (let i = 0; i < 5; i++) runs.push((await stack.client.runs.create({ template: 'flaky' })).run.id);
  t.same(await lane(), { success: 0, error: 0, cancelled: 0, pending: 0 }, 'nothing recovered yet');
  const lost = await worker.worker.claim({ worker_id: 'doomed', lanes: ['R'], limit: 5 });
  t.equal(lost.runs.length, 5);

  // The worker dies: its heartbeats stop. A zero timeout makes every lease stale at once.
  const stale = (await findStaleRuns(stack.db.db, { timeoutS: 0, limit: 100 })).filter((s) =>
    runs.includes(s.id),
  );
  t.equal(stale.length, 5, 'the sweeper sees the five');
  const swept = await sweepStaleRuns(stack.db.db, stale);
  t.same(
    swept.map((s) => s.action),
    ['requeued', 'requeued', 'requeued', 'requeued', 'requeued'],
  );
  t.same(await lane(), { success: 0, error: 0, cancelled: 0, pending: 5 }, 'five recovered, none ended');
  t.same(
    await metricsShow({ success: 0, error: 0, cancelled: 0, pending: 5 }),
    { success: 0, error: 0, cancelled: 0, pending: 5 },
    'the metric, by outcome',
  );

  await stack.client.runs.cancel(runs[0]!);
  // An ordinary run of the same lane, never lost: it must not count.
  const plain = (await stack.client.runs.create({ template: 'flaky' })).run.id;
  const again = await worker.worker.claim({ worker_id: 'rescuer', lanes: ['R'], limit: 10 });
  t.same(again.runs.map((r) => r.run.id).sort(), [...runs.slice(1), plain].sort(), 'claimed again');
  const lease = new Map(again.runs.map((r) => [r.run.id, r.lease_token]));
  for (const [id, status] of [
    [runs[1]!, 'success'],
    [runs[2]!, 'success'],
    [runs[3]!, 'error'],
    [plain, 'success'],
  ] as const)
    await worker.worker.complete(id, lease.get(id)!, {
      status,
      ...(status === 'error' ? { error: { code: 'step_failed', message: 'boom' } } : {}),
    });
  // runs[4] is still running on the rescuer.
  const want = { success: 2, error: 1, cancelled: 1, pending: 1 };
  t.same(await lane(), want, 'two succeeded, one failed, one cancelled, one still running');
  t.same(await metricsShow(want), want, 'the metric follows');
  const other = (await stack.client.lanes.list()).lanes.filter((l) => l.name !== 'R');
  t.ok(
    other.every((l) => l.recovered.success + l.recovered.pending === 0),
    'no other lane counts them',
  );

  // A large table of ordinary runs: the count still reads only the recovered ones, through their index.
  for (let offset = 0; offset < FILLER; offset += 1000)
    await enqueueRuns(
      stack.db.db,
      Array.from({ length: 1000 }, () => ({
        template: 'flaky',
        template_version: template.version,
        lane: 'R',
        params: {},
      })),
    );
  await vacuumAnalyze(stack.db.db, ['runs']);
  const plan = await explainLaneOverview(stack.db.db);
  t.match(plan, /runs_recovered_idx/, 'the recovered counts use the partial index');
  t.comment(plan);
  t.same(await lane(), want, `unchanged by ${FILLER} ordinary runs`);
});
