/**
 * A unified diff of two texts by lines (the format of `diff -u` and `git diff`), for `templates apply
 * --dry-run`. Templates are small, so the plain longest-common-subsequence table is fast enough and needs no
 * dependency.
 */
export function unifiedDiff(
  before: string,
  after: string,
  labels: { from: string; to: string },
  context = 3,
): string {
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = lineOps(a, b);
  if (ops.every((op) => op.kind === ' ')) return '';
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`];
  // Group changes with `context` unchanged lines around them into hunks.
  const changed = ops.map((op, i) => (op.kind === ' ' ? -1 : i)).filter((i) => i >= 0);
  let start = 0;
  while (start < changed.length) {
    let end = start;
    while (end + 1 < changed.length && changed[end + 1]! - changed[end]! <= 2 * context + 1) end++;
    const from = Math.max(0, changed[start]! - context);
    const to = Math.min(ops.length, changed[end]! + context + 1);
    const hunk = ops.slice(from, to);
    const first = ops[from]!;
    const aLen = hunk.filter((op) => op.kind !== '+').length;
    const bLen = hunk.filter((op) => op.kind !== '-').length;
    out.push(`@@ -${range(first.aLine, aLen)} +${range(first.bLine, bLen)} @@`);
    for (const op of hunk) out.push(`${op.kind}${op.text}`);
    start = end + 1;
  }
  return out.join('\n') + '\n';
}

interface Op {
  kind: ' ' | '-' | '+';
  text: string;
  /** 1-based line numbers where this op sits in each text (the next line, for the side it is not on). */
  aLine: number;
  bLine: number;
}

function lineOps(a: string[], b: string[]): Op[] {
  // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const at = { aLine: i + 1, bLine: j + 1 };
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ kind: ' ', text: a[i]!, ...at });
      i++;
      j++;
    } else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      // Removals before additions, as git prints them.
      ops.push({ kind: '-', text: a[i]!, ...at });
      i++;
    } else {
      ops.push({ kind: '+', text: b[j]!, ...at });
      j++;
    }
  }
  return ops;
}

/** `start,count` of a hunk side; an empty side names the line before it, as diff does. */
function range(line: number, count: number): string {
  if (count === 0) return `${line - 1},0`;
  return count === 1 ? `${line}` : `${line},${count}`;
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
