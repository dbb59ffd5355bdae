import t from 'tap';
import { startStack } from '@ocr/testkit';
import { createClientProtocol } from '../src/index.js';

/**
 * Completions of runs that finish together travel in one batch. Regression for issue 14: one completion
 * the API refused (400) failed every completion of its batch, and the worker gave the runs up to the
 * sweeper (requeued as infrastructure losses, executed again past max_attempts).
 */

t.test('the completion routes store NUL and invalid unicode cleaned, never refuse them', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create({
    name: 'one',
    retry: { max_attempts: 1 },
    steps: [{ name: 's', kind: 'shell', script: 'true' }],
  });
  const { client } = await stack.tokenFor('worker');
  const a = (await stack.client.runs.create({ template: 'one' })).run;
  const b = (await stack.client.runs.create({ template: 'one' })).run;
  const { runs } = await client.worker.claim({ worker_id: 'w1', boot_id: 'b1', lanes: ['A'], limit: 2 });
  t.equal(runs.length, 2);
  const lease = (id: string) => runs.find((r) => r.run.id === id)!.lease_token;
  const poison = {
    seq: 1,
    level: 'info' as const,
    type: 'log',
    message: 'x\u0000y\ud800',
    data: { 'k\u0000': ['\udc00'] },
  };
  await client.worker.complete(a.id, lease(a.id), {
    status: 'success',
    output: { v: 'o\u0000' },
    events: [poison],
  });
  const batch = await client.worker.completeMany([
    {
      run_id: b.id,
      lease_token: lease(b.id),
      status: 'error',
      error: { code: 'exit_code', message: 'bad\u0000' },
      events: [poison],
    },
  ]);
  t.match(batch.results, [{ run_id: b.id, ok: true, status: 'error' }]);
  for (const run of [a, b]) {
    const { events } = await stack.client.runs.events(run.id);
    const log = events.find((e) => e.type === 'log')!;
    t.equal(log.message, 'x\uFFFDy\uFFFD', 'message cleaned');
    t.same(log.data, { 'k\uFFFD': ['\uFFFD'] }, 'data cleaned');
  }
  t.same((await stack.client.runs.get(a.id)).run.output, { v: 'o\uFFFD' });
  t.match((await stack.client.runs.get(b.id)).run.error, { code: 'exit_code', message: 'bad\uFFFD' });
});

t.test(
  'a refused completion in a batch: the others complete, the refused run is recorded as failed with the reason',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await stack.client.templates.create({
      name: 'one',
      retry: { max_attempts: 1 },
      steps: [{ name: 's', kind: 'shell', script: 'true' }],
    });
    const { token, client } = await stack.tokenFor('worker');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await stack.client.runs.create({ template: 'one' })).run.id);
    const { runs } = await client.worker.claim({ worker_id: 'w1', boot_id: 'b1', lanes: ['A'], limit: 5 });
    t.equal(runs.length, 5);
    const protocol = createClientProtocol({ baseUrl: stack.apiUrl, token });
    const bad = runs[2]!;
    // An event the protocol's schema refuses (an unknown level): something the worker's own cleaning cannot
    // produce, standing in for any reason the API may have to refuse one completion.
    const results = await Promise.allSettled(
      runs.map((r) =>
        protocol.complete(r.run.id, r.lease_token, {
          status: 'success',
          events: [
            {
              seq: 1,
              ts: new Date().toISOString(),
              level: (r === bad ? 'loud' : 'info') as 'info',
              type: 'log',
              message: 'done',
            },
          ],
        }),
      ),
    );
    // The wire, from the API's metrics: one batch refused, then each run alone (the bad one twice).
    const metrics = await (
      await fetch(`${stack.apiUrl}/metrics`, { headers: { authorization: `Bearer ${stack.adminToken}` } })
    ).text();
    const requests = (route: string, status: string) =>
      metrics
        .split('\n')
        .filter(
          (line) =>
            line.startsWith('ocr_http_requests_total') &&
            line.includes(`route="${route}"`) &&
            line.includes(`status="${status}"`),
        )
        .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    t.equal(requests('/v1/runs/complete', '400'), 1, 'the batch went out once and was refused');
    t.equal(requests('/v1/runs/:id/complete', '200'), 5, 'then every run alone, the refused one as failed');
    t.equal(requests('/v1/runs/:id/complete', '400'), 1, 'the bad completion alone is refused');
    t.same(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
    );
    t.match((results[2] as PromiseFulfilledResult<{ refused?: string }>).value, {
      refused: /refused the completion \(400 validation_failed\)/,
    });
    for (const r of runs) {
      const { run } = await stack.client.runs.get(r.run.id);
      if (r === bad) {
        t.equal(run.status, 'error', 'the refused run failed');
        t.match(run.error, { code: 'completion_refused', message: /validation_failed/ });
      } else {
        t.equal(run.status, 'success', 'the others completed');
      }
      t.equal(run.attempt, 1, 'never requeued');
    }
  },
);
