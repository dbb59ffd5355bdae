/** The unified diff of `templates apply --dry-run`, checked on generated texts: patching `a` gives `b`. */
import t from 'tap';
import { unifiedDiff } from '../../src/templates-as-code/line-diff.js';
import { seededRandom as random } from '@ocr/testkit/random';

/** Apply a unified diff to `text`, checking every context and removed line and every hunk's counts. */
function patch(text: string, diff: string): string {
  const a = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  let at = 0;
  const lines = diff.replace(/\n$/, '').split('\n').slice(2);
  for (let i = 0; i < lines.length;) {
    const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$/.exec(lines[i]!);
    if (!m) throw new Error(`not a hunk header: ${lines[i]}`);
    const [aStart, aLen, bLen] = [Number(m[1]), Number(m[2] ?? 1), Number(m[4] ?? 1)];
    const start = aLen === 0 ? aStart : aStart - 1;
    while (at < start) out.push(a[at++]!);
    let seenA = 0;
    let seenB = 0;
    for (i++; i < lines.length && !lines[i]!.startsWith('@@'); i++) {
      const [kind, body] = [lines[i]![0], lines[i]!.slice(1)];
      if (kind !== '+') {
        if (a[at] !== body) throw new Error(`line ${at + 1}: expected ${a[at]}, diff says ${body}`);
        at++;
        seenA++;
      }
      if (kind !== '-') {
        out.push(body);
        seenB++;
      }
    }
    if (seenA !== aLen || seenB !== bLen)
      throw new Error(`hunk counts ${aLen},${bLen} but ${seenA},${seenB} lines`);
  }
  while (at < a.length) out.push(a[at++]!);
  return out.length ? out.join('\n') + '\n' : '';
}

t.test('patching the old text with the diff gives the new text (500 generated pairs)', async (t) => {
  let failures = 0;
  for (let seed = 1; seed <= 500; seed++) {
    const next = random(seed);
    const words = ['name: x', 'kind: shell', '  - a', '  - b', 'steps:', 'retry: 1', ''];
    const a = Array.from(
      { length: Math.floor(next() * 30) },
      () => words[Math.floor(next() * words.length)]!,
    );
    const b = a.flatMap((line) => {
      const r = next();
      if (r < 0.1) return [];
      if (r < 0.2) return [line, `added ${seed}`];
      if (r < 0.25) return [`changed ${line}`];
      return [line];
    });
    const before = a.length ? a.join('\n') + '\n' : '';
    const after = b.length ? b.join('\n') + '\n' : '';
    const diff = unifiedDiff(before, after, { from: 'a', to: 'b' });
    try {
      if (before === after) t.equal(diff, '', `seed ${seed}: no diff for equal texts`);
      else t.equal(patch(before, diff), after, `seed ${seed}`);
    } catch (err) {
      failures++;
      t.fail(`seed ${seed}: ${(err as Error).message}\n${diff}`);
    }
  }
  t.equal(failures, 0);
});

t.test(
  'the format git prints: labels, hunk header, removals before additions, 3 lines of context',
  async (t) => {
    const a = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'].join('\n') + '\n';
    const b = ['1', '2', '3', '4', 'five', '6', '7', '8', '9', '10'].join('\n') + '\n';
    t.equal(
      unifiedDiff(a, b, { from: 'server/x v1', to: 'x.yaml' }),
      [
        '--- server/x v1',
        '+++ x.yaml',
        '@@ -2,7 +2,7 @@',
        ' 2',
        ' 3',
        ' 4',
        '-5',
        '+five',
        ' 6',
        ' 7',
        ' 8',
        '',
      ].join('\n'),
    );
    t.equal(
      unifiedDiff('', 'a\n', { from: '/dev/null', to: 'f' }),
      '--- /dev/null\n+++ f\n@@ -0,0 +1 @@\n+a\n',
    );
    // Two changes far apart are two hunks.
    const far = Array.from({ length: 20 }, (_, i) => String(i)).join('\n') + '\n';
    const farB = far.replace('1\n', 'one\n').replace('18\n', 'eighteen\n');
    t.equal((unifiedDiff(far, farB, { from: 'a', to: 'b' }).match(/^@@/gm) ?? []).length, 2);
  },
);
