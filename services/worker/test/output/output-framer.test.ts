import t from 'tap';
import type { StepEvent } from '../../src/executors/types.js';
import { OutputFramer } from '../../src/output/index.js';

function framer(limits: ConstructorParameters<typeof OutputFramer>[1] = {}) {
  const events: StepEvent[] = [];
  const f = new OutputFramer((event) => events.push(event), limits);
  const logs = () => events.filter((e) => e.type === 'log').map((e) => e.message);
  return { f, events, logs };
}

t.test('lines across chunks, CRLF, per-stream partials, last partial flushed at end', async (t) => {
  const { f, events } = framer();
  f.write('stdout', 'hel');
  f.write('stderr', 'err-a');
  f.write('stdout', 'lo\r\nwor');
  f.write('stderr', 'b\n');
  f.write('stdout', 'ld');
  const summary = f.end();
  t.same(
    events.map((e) => [e.data?.stream, e.message]),
    [
      ['stdout', 'hello'],
      ['stderr', 'err-ab'],
      ['stdout', 'world'],
    ],
  );
  t.same(summary, { bytes: 19, emittedLines: 3, droppedBytes: 0, droppedLines: 0, truncated: false });
});

t.test('a multi-byte character split across chunks is joined, not mangled', async (t) => {
  const { f, logs } = framer();
  const bytes = Buffer.from('ünïcödé ✓\n');
  for (const byte of bytes) f.write('stdout', Buffer.from([byte]));
  f.end();
  t.same(logs(), ['ünïcödé ✓']);
});

t.test('long lines are cut on character boundaries', async (t) => {
  const { f, events } = framer({ maxLineBytes: 5 });
  f.write('stdout', 'ééééé\n'); // 10 bytes: pieces of at most 5 bytes, never half a character
  f.end();
  t.same(
    events.map((e) => [e.message, e.data?.continues ?? false]),
    [
      ['éé', true],
      ['éé', true],
      ['é', false],
    ],
  );
});

t.test('output that fills the head exactly is complete: no truncation notice', async (t) => {
  const { f, events } = framer({ headLines: 3 });
  f.write('stdout', 'a\nb\nc\n');
  t.same(f.end().truncated, false);
  t.same(
    events.map((e) => e.message),
    ['a', 'b', 'c'],
  );
});

t.test('head and tail kept by lines, the middle dropped and counted, notices in place', async (t) => {
  const { f, events, logs } = framer({ headLines: 3, tailLines: 2 });
  for (let i = 1; i <= 100; i++) f.write(i % 2 ? 'stdout' : 'stderr', `line ${i}\n`);
  const summary = f.end();
  t.same(logs(), ['line 1', 'line 2', 'line 3', 'line 99', 'line 100']);
  t.same(
    events.map((e) => e.type),
    ['log', 'log', 'log', 'output.truncating', 'output.truncated', 'log', 'log'],
  );
  const notice = events.find((e) => e.type === 'output.truncated')!;
  t.equal(notice.data?.dropped_lines, 95);
  t.equal(summary.droppedLines, 95);
  t.equal(summary.truncated, true);
  t.same(
    events.filter((e) => e.type === 'log').map((e) => e.data?.stream),
    ['stdout', 'stderr', 'stdout', 'stdout', 'stderr'],
  );
});

t.test('head and tail kept by bytes; the first kept tail line is marked as cut', async (t) => {
  const { f, events, logs } = framer({ headBytes: 10, tailBytes: 8 });
  f.write('stdout', 'aaaa\nbbbb\ncccccccccccccccccccc\nzzzz\n');
  const summary = f.end();
  t.same(logs(), ['aaaa', 'bbbb', 'cc', 'zzzz']);
  const tail = events.filter((e) => e.type === 'log').slice(2);
  t.same(
    tail.map((e) => e.data?.cut ?? false),
    [true, false],
  );
  t.equal(summary.droppedBytes, 18);
  t.equal(summary.bytes, 36);
});

t.test('an unfinished line at the switch is kept whole in the tail', async (t) => {
  const { f, logs } = framer({ headLines: 1 });
  f.write('stdout', 'one\ntw');
  f.write('stderr', 'x\n');
  f.write('stdout', 'o\n');
  f.end();
  // Lines appear when they are completed, as they would live: stderr's `x` before stdout's `two`.
  t.same(logs(), ['one', 'x', 'two']);
});
