// The array literals the fast append builds itself (issue 19, fifth pass) read back in Postgres as exactly the
// values put in: generated text with quotes, backslashes, braces, commas, spaces, the word NULL, empty strings
// and non-ASCII, next to NULLs; integers; JSON texts cast to jsonb[].
import t from 'tap';
import { sql } from 'kysely';
import { createTestDatabase } from '@ocr/testkit';
import { seededRandom } from '@ocr/testkit/random';
import { ArrayLiteral } from '../src/queue/array-literal.js';

t.test('generated text, integers and JSON survive the literal exactly', async (t) => {
  const { db } = await createTestDatabase(t, { poolSize: 1 });
  const seed = Number(process.env.SEED ?? Date.now() % 1e9);
  const random = seededRandom(seed);
  const pieces = [
    'a',
    '"',
    '\\',
    '{',
    '}',
    ',',
    ' ',
    '\t',
    '\n',
    'NULL',
    'null',
    "'",
    'é',
    '\uD83D\uDE00',
    'x'.repeat(40),
  ];
  for (let round = 0; round < 40; round++) {
    const texts = Array.from({ length: Math.floor(random() * 50) }, () =>
      random() < 0.1
        ? null
        : Array.from(
            { length: Math.floor(random() * 8) },
            () => pieces[Math.floor(random() * pieces.length)],
          ).join(''),
    );
    const numbers = texts.map(() => Math.floor(random() * 2 ** 31) * (random() < 0.2 ? -1 : 1));
    const json = texts.map((text) => (text === null ? null : JSON.stringify({ text, n: [1, { q: text }] })));
    const [a, b, c] = [new ArrayLiteral(), new ArrayLiteral(), new ArrayLiteral()];
    texts.forEach((text) => a.text(text));
    numbers.forEach((n) => b.number(n));
    json.forEach((j) => c.text(j));
    const { rows } = await sql<{ texts: (string | null)[]; numbers: number[]; json: unknown[] }>`
      SELECT ${a.toString()}::text[] AS texts, ${b.toString()}::int[] AS numbers, ${c.toString()}::jsonb[] AS json
    `.execute(db);
    t.same(rows[0]!.texts, texts, `seed ${seed} round ${round}: text`);
    t.same(rows[0]!.numbers, numbers, `seed ${seed} round ${round}: integers`);
    t.same(
      rows[0]!.json,
      json.map((j) => (j === null ? null : JSON.parse(j))),
      `seed ${seed} round ${round}: jsonb`,
    );
  }
  t.equal(new ArrayLiteral().toString(), '{}', 'empty');
});
