// Recovery success rate on the runboard, in Chromium: runs the sweeper requeued after their worker was lost
// (the sweeper's findStaleRuns/sweepStaleRuns on the test's Postgres) show on their lane's card and in the
// runboard's totals, and follow live as they end.
import t from 'tap';
import { findStaleRuns, sweepStaleRuns } from '@ocr/db';
import { startConsole, until } from './helpers/console.js';

t.test('runboard: recovered runs and their success rate, per lane and in total', async (t) => {
  const c = await startConsole(t, { worker: false, s3: false });
  const { stack } = c;
  await stack.client.templates.create({
    name: 'flaky',
    default_lane: 'R',
    retry: { max_attempts: 1, backoff: { initial_s: 0, factor: 1, max_s: 0 } },
    steps: [{ name: 's', kind: 'noop' }],
  });
  await stack.client.templates.create({
    name: 'calm',
    default_lane: 'Q',
    steps: [{ name: 's', kind: 'noop' }],
  });
  await stack.client.runs.create({ template: 'calm' });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await stack.client.runs.create({ template: 'flaky' })).run.id);
  const { client: worker } = await stack.tokenFor('worker');
  await worker.worker.claim({ worker_id: 'doomed', lanes: ['R'], limit: 3 });
  const stale = (await findStaleRuns(stack.db.db, { timeoutS: 0, limit: 100 })).filter((s) =>
    ids.includes(s.id),
  );
  t.equal((await sweepStaleRuns(stack.db.db, stale)).filter((s) => s.action === 'requeued').length, 3);

  const page = await c.signedIn();
  const card = page.locator('article[aria-labelledby="lane-R"]');
  const line = card.locator('[data-fig="recovered"]');
  const text = (l: typeof line) => l.textContent().then((s) => (s ?? '').replace(/\s+/g, ' ').trim());
  await until(async () => /3 still going/.test(await text(line)), 15_000, 'lane R to show 3 recovered runs');
  t.match(await text(line), /— succeeded \(0 of 0; 3 still going\)/, 'none ended yet: no rate');
  t.match(
    await text(page.locator('[data-fig="recovery"]')),
    /^— of 0 recovered runs succeeded$/,
    'totals: nothing ended',
  );
  t.match(
    await text(page.locator('article[aria-labelledby="lane-Q"] [data-fig="recovered"]')),
    /No run recovered/,
    'a lane without losses says so',
  );

  const again = await worker.worker.claim({ worker_id: 'rescuer', lanes: ['R'], limit: 3 });
  const lease = new Map(again.runs.map((r) => [r.run.id, r.lease_token]));
  await worker.worker.complete(ids[0]!, lease.get(ids[0]!)!, { status: 'success' });
  await worker.worker.complete(ids[1]!, lease.get(ids[1]!)!, { status: 'success' });
  await worker.worker.complete(ids[2]!, lease.get(ids[2]!)!, {
    status: 'error',
    error: { code: 'step_failed', message: 'boom' },
  });
  // Live: the lanes stream topic pushes the new counts (no reload).
  await until(async () => /\(2 of 3\)/.test(await text(line)), 15_000, 'lane R to show 2 of 3');
  t.equal(await text(card.locator('[data-fig="recovery-rate"]')), '67%', 'lane card: 67%');
  t.match(
    await line.getAttribute('title'),
    /2 succeeded, 1 failed, 0 cancelled, 0 not finished yet/,
    'the breakdown on hover',
  );
  await until(
    async () => /^67% of 3 recovered runs succeeded$/.test(await text(page.locator('[data-fig="recovery"]'))),
    15_000,
    'the totals to show 67%',
  );
  t.pass('runboard totals: 67% of 3');
  await c.shot(page, 'runboard-recovery');
});
