import t from 'tap';
import { Backoff, retry } from '../src/retry.js';

t.test('backoff doubles up to the cap, jittered within the ratio, and starts over on reset', async (t) => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
  t.same([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000]);
  b.reset();
  t.equal(b.next(), 100);
  const j = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.2 });
  for (let i = 0; i < 100; i++) {
    const d = j.next();
    t.ok(d >= 800 && d <= 1200, `${d} within ±20 %`);
  }
});

t.test(
  'retry: until success; stops on a non-retryable error, the attempt limit or the deadline',
  async (t) => {
    let calls = 0;
    t.equal(
      await retry(async () => (++calls < 3 ? Promise.reject(new Error('x')) : 'ok'), {
        initialMs: 1,
        maxMs: 2,
      }),
      'ok',
    );
    t.equal(calls, 3);
    calls = 0;
    await t.rejects(
      retry(async () => (calls++, Promise.reject(new Error('always'))), {
        initialMs: 1,
        maxMs: 2,
        attempts: 4,
      }),
      /always/,
    );
    t.equal(calls, 4, 'four tries in all');
    calls = 0;
    const fatal = Object.assign(new Error('gone'), { code: 'lease_lost' });
    await t.rejects(
      retry(async () => (calls++, Promise.reject(fatal)), {
        initialMs: 1,
        maxMs: 2,
        retryable: (e) => (e as { code?: string }).code !== 'lease_lost',
      }),
      fatal,
    );
    t.equal(calls, 1, 'not retried');
    const started = Date.now();
    await t.rejects(
      retry(async () => Promise.reject(new Error('down')), { initialMs: 20, maxMs: 20, deadlineMs: 200 }),
      /down/,
    );
    t.ok(Date.now() - started < 1000, 'the deadline ends it');
    const seen: number[] = [];
    calls = 0;
    await retry(async () => (++calls < 3 ? Promise.reject(new Error('x')) : 'ok'), {
      initialMs: 1,
      maxMs: 2,
      onRetry: (_e, attempt) => seen.push(attempt),
    });
    t.same(seen, [1, 2], 'told before each wait');
  },
);
