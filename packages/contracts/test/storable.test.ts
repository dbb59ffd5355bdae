import t from 'tap';
import { seededRandom } from '@ocr/testkit/random';
import { sanitizeText } from '../src/storable.js';

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
