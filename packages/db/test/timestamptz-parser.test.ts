// connect.ts reads a UTC session's timestamptz texts by position (parseTimestamptz) and leaves every other
// text to node-postgres's parser. Over generated texts — UTC and other offsets, 0–6 fraction digits, early
// and BC years, infinity, malformed digits — both must give the same value.
import t from 'tap';
import { createRequire } from 'node:module';
import pg from 'pg';
import { seededRandom } from '@ocr/testkit/random';
import { parseTimestamptz } from '../src/connect.js';

const parseDate = createRequire(createRequire(import.meta.url).resolve('pg'))('postgres-date') as (
  text: string,
) => Date | number | null;

/** Seeded: the same cases on every run. */
const rand = seededRandom(19);
const int = (n: number) => Math.floor(rand() * n);
const pad = (n: number, width: number) => String(n).padStart(width, '0');
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

function text(): string {
  const year = pick([int(10_000), 1970 + int(100), 2026, int(100), 10_000 + int(1000)]);
  const fraction = int(7) === 0 ? '' : '.' + pad(int(1_000_000), 6).slice(0, 1 + int(6));
  const zone = pick(['+00', '+00', '+00', '+05:30', '-08', '+00:00:12', 'Z', '']);
  let out = `${pad(year, 4)}-${pad(1 + int(12), 2)}-${pad(1 + int(28), 2)} ${pad(int(24), 2)}:${pad(int(60), 2)}:${pad(int(60), 2)}${fraction}${zone}`;
  if (int(20) === 0) out += ' BC';
  if (int(30) === 0) {
    const at = int(out.length);
    out = out.slice(0, at) + pick(['x', ' ', '-', '']) + out.slice(at + 1);
  }
  return out;
}

const value = (v: unknown) => (v instanceof Date ? v.getTime() : v);

t.test('parseTimestamptz gives what postgres-date gives, over generated texts', async (t) => {
  for (let i = 0; i < 5000; i++) {
    const s = text();
    t.same(value(parseTimestamptz(s)), value(parseDate(s)), s);
  }
  for (const s of ['infinity', '-infinity', '2026-12-05 07:16:55+00', '2026-12-05 07:16:55.1+00']) {
    t.same(value(parseTimestamptz(s)), value(parseDate(s)), s);
  }
});

t.test('node-postgres reads timestamptz with it', async (t) => {
  t.equal(pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ), parseTimestamptz);
});
