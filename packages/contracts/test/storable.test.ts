import t from 'tap';
import { seededRandom } from '@ocr/testkit/random';
import {
  MAX_JSON_DEPTH,
  jsonDepthExceeds,
  sanitizeJson,
  sanitizeText,
  storableJsonText,
  TOO_DEEP,
} from '../src/storable.js';

/** The rule as written before the clean-text shortcut: every string goes through both passes. */
const reference = (value: string): string => value.toWellFormed().replaceAll('\u0000', '\uFFFD');

t.test(
  'sanitizeText: generated text (NUL, lone and paired surrogates, plain) as the rule says',
  async (t) => {
    const seed = Number(process.env.SEED ?? Date.now() % 1e9);
    const random = seededRandom(seed);
    const pieces = [
      'a',
      'é',
      '\u0000',
      '\uD83D',
      '\uDE00',
      '\uD83D\uDE00',
      '\uFFFD',
      ' ',
      '\n',
      'x'.repeat(50),
    ];
    let changed = 0;
    for (let i = 0; i < 5000; i++) {
      const length = Math.floor(random() * 12);
      const text = Array.from({ length }, () => pieces[Math.floor(random() * pieces.length)]).join('');
      const out = sanitizeText(text);
      if (out !== reference(text)) t.fail(`seed ${seed}: ${JSON.stringify(text)}`);
      if (!out.isWellFormed() || out.includes('\u0000')) t.fail(`not storable: ${JSON.stringify(out)}`);
      if (out !== text) changed++;
    }
    t.ok(changed > 100, `dirty inputs were generated and cleaned (${changed})`);
    t.equal(sanitizeText('clean text'), 'clean text');
  },
);

/** sanitizeJson as written before (Object.entries, both passes per string). */
function referenceJson(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return reference(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_JSON_DEPTH) return TOO_DEEP;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
    return referenceJson((value as { toJSON: () => unknown }).toJSON(), depth);
  if (Array.isArray(value)) return value.map((item) => referenceJson(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[reference(key)] = referenceJson(inner, depth + 1);
  return out;
}

t.test('sanitizeJson: generated JSON (dirty keys and values, dates, deep nesting) as before', async (t) => {
  const seed = Number(process.env.SEED ?? Date.now() % 1e9);
  const random = seededRandom(seed);
  const texts = ['ok', 'a\u0000b', '\uD800', 'é', ''];
  const gen = (depth: number): unknown => {
    const r = random();
    if (depth > 5 || r < 0.3)
      return [1, true, null, texts[Math.floor(random() * texts.length)]][Math.floor(random() * 4)];
    if (r < 0.35) return new Date(1_700_000_000_000 + Math.floor(random() * 1e9));
    if (r < 0.6) return Array.from({ length: Math.floor(random() * 3) + 1 }, () => gen(depth + 1));
    const out: Record<string, unknown> = {};
    for (let i = 0; i < 1 + Math.floor(random() * 3); i++)
      out[texts[Math.floor(random() * texts.length)]! + i] = gen(depth + 1);
    return out;
  };
  for (let i = 0; i < 500; i++) {
    const value =
      random() < 0.1 ? Array.from({ length: 70 }).reduce<unknown>((inner) => ({ d: inner }), 'deep') : gen(0);
    t.same(sanitizeJson(value), referenceJson(value), `seed ${seed} #${i}`);
  }
});

t.test('storableJsonText: the text of sanitizeJson for generated values, clean ones unrebuilt', async (t) => {
  const seed = Number(process.env.SEED ?? Date.now() % 1e9);
  const random = seededRandom(seed);
  const texts = [
    'ok',
    'a\u0000b',
    '\uD800',
    '\uDFFF',
    '\uD83D\uDE00',
    'é',
    '',
    'back\\u0000slash',
    '"{[',
    '\\',
  ];
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!;
  const nest = (depth: number, inner: unknown): unknown =>
    Array.from({ length: depth }).reduce<unknown>((acc, _, i) => (i % 2 === 0 ? { d: acc } : [acc]), inner);
  const gen = (depth: number): unknown => {
    const r = random();
    if (depth > 4 || r < 0.3)
      return pick<unknown>([1, -0.5, true, false, null, undefined, Number.NaN, pick(texts)]);
    if (r < 0.35) return new Date(1_700_000_000_000 + Math.floor(random() * 1e9));
    if (r < 0.38) return () => 1;
    if (r < 0.6) return Array.from({ length: Math.floor(random() * 3) + 1 }, () => gen(depth + 1));
    const out: Record<string, unknown> = {};
    for (let i = 0; i < 1 + Math.floor(random() * 3); i++) out[pick(texts) + i] = gen(depth + 1);
    return out;
  };
  let fast = 0;
  for (let i = 0; i < 3000; i++) {
    const r = random();
    // Nesting around the limit (63–66 levels), clean or dirty inside; else generated values.
    const value =
      r < 0.15 ? nest(MAX_JSON_DEPTH - 2 + Math.floor(random() * 5), pick([{}, [], 'x', '\u0000'])) : gen(0);
    const want = JSON.stringify(sanitizeJson(value)) ?? null;
    const got = storableJsonText(value);
    if (got !== want) t.fail(`seed ${seed} #${i}: ${got} !== ${want}`);
    if (want !== null && JSON.stringify(value) === want) fast++;
  }
  t.ok(fast > 500, `clean values were generated (${fast})`);
  // A cycle cannot be stringified: cleaning cuts it at the depth limit, as before.
  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;
  t.equal(storableJsonText(cycle), JSON.stringify(sanitizeJson(cycle)));
  // Deeper than the stack allows for stringify: cut, never thrown.
  const deep = nest(200_000, 'x');
  t.equal(storableJsonText(deep), JSON.stringify(sanitizeJson(deep)));
  t.equal(storableJsonText({ stream: 'stdout' }), '{"stream":"stdout"}');
  t.equal(storableJsonText(undefined), null);
});

t.test('jsonDepthExceeds counts brackets outside strings only', async (t) => {
  t.equal(jsonDepthExceeds('[[[]]]', 3), false);
  t.equal(jsonDepthExceeds('[[[[]]]]', 3), true);
  t.equal(jsonDepthExceeds(JSON.stringify({ a: '[[[[[[[[', b: '\\"[[[[[' }), 1), false);
  t.equal(jsonDepthExceeds('['.repeat(100_000), MAX_JSON_DEPTH), true);
});
