import t from 'tap';
import { pino, type Logger } from 'pino';
import { seededRandom } from '@ocr/testkit/random';
import { REDACT_PATHS } from '../src/logger.js';
import { lazyChild } from '../src/lazy-logger.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** A logger as createLogger builds it (redaction, base), writing into `lines`, without a clock. */
function capture(level: string): { log: Logger; lines: string[]; childCalls: () => number } {
  const lines: string[] = [];
  const log = pino(
    {
      level,
      base: { service: 't' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: false,
    },
    { write: (line: string) => void lines.push(line) },
  );
  let calls = 0;
  // Counted on every logger below this one (children inherit it), each still the child of its own parent.
  const child = log.child;
  log.child = function (this: Logger, ...args: Parameters<Logger['child']>) {
    calls++;
    return child.apply(this, args);
  } as Logger['child'];
  return { log, lines, childCalls: () => calls };
}

t.test(
  'a lazy child writes exactly the lines pino.child writes (generated bindings, levels, nesting)',
  async (t) => {
    const seed = Number(process.env.SEED ?? Date.now() % 1e9);
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const values = ['x', 'tok-123', 42, null, { token: 's3cret', ok: 1 }, ['a', { password: 'p' }]];
    const keys = ['runId', 'step', 'token', 'lease_token', 'attempt', 'lane', 'secret', 'data'];
    for (let round = 0; round < 200; round++) {
      const level = pick(LEVELS);
      const eager = capture(level);
      const lazy = capture(level);
      const serializers =
        random() < 0.5
          ? { err: (err: Error) => ({ masked: err.message.replace(/s3cret/g, '••••') }) }
          : undefined;
      const bindings = () =>
        Object.fromEntries(keys.filter(() => random() < 0.4).map((k) => [k, pick(values)]));
      const b1 = bindings();
      const b2 = bindings();
      const e1 = eager.log.child(b1, serializers ? { serializers } : undefined);
      const l1 = lazyChild(lazy.log, b1, serializers ? { serializers } : undefined);
      const e2 = e1.child(b2);
      const l2 = l1.child(b2);
      for (let i = 0; i < 5; i++) {
        const at = pick(LEVELS);
        const which = random() < 0.5;
        const obj = { n: i, token: 'tok', err: new Error('boom s3cret') };
        (which ? e1 : e2)[at](obj, `line ${i}`);
        (which ? l1 : l2)[at](obj, `line ${i}`);
      }
      t.same(
        lazy.lines.map((l) => JSON.parse(l)),
        eager.lines.map((l) => JSON.parse(l)),
        `seed ${seed} round ${round}`,
      );
      t.equal(lazy.lines.join(''), eager.lines.join(''), 'byte for byte, field order too');
      if (lazy.lines.length === 0) t.equal(lazy.childCalls(), 0, 'nothing written: no child made');
    }
  },
);

t.test('a disabled level costs no child; level questions are answered without making one', async (t) => {
  const { log, lines, childCalls } = capture('warn');
  const run = lazyChild(log, { runId: 'r1' });
  const step = run.child({ step: 's' });
  step.info('not written');
  run.debug({ a: 1 }, 'not written');
  t.equal(step.isLevelEnabled('info'), false);
  t.equal(step.level, 'warn');
  t.equal(childCalls(), 0);
  t.same(lines, []);
  step.warn('written');
  t.equal(childCalls(), 2, 'the run child and the step child made, on the first line');
  t.match(JSON.parse(lines[0]!), { runId: 'r1', step: 's', msg: 'written', service: 't' });
  run.error('again');
  t.equal(childCalls(), 2, 'each made once');
  t.match(JSON.parse(lines[1]!), { runId: 'r1', msg: 'again' });
  t.notOk('step' in JSON.parse(lines[1]!));
});
