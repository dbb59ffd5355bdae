/**
 * Every numeric variable of every process, found by walking the config schemas (a variable added later is
 * covered without touching this file): a value that is not written as an integer (`1.5`, `0x10`, `1e3`,
 * ` 3`) stops the process with exactly one line naming the variable and the text it got, instead of being
 * truncated or reinterpreted; an integer in range loads as exactly that number. Decimal variables refuse
 * hex, spaces and `Infinity` the same way.
 */
import t from 'tap';
import type { TObject } from 'typebox';
import { ApiConfigSchema, loadApiConfig } from '@ocr/api';
import { ConfigError } from '@ocr/runtime';
import { loadSweeperConfig, SweeperConfigSchema } from '@ocr/sweeper';
import { loadWorkerConfig, WorkerConfigSchema } from '@ocr/worker';
import { DevConfigSchema, loadDevConfig } from '../packages/cli/src/dev-config.js';
import { seededRandom as random } from '@ocr/testkit/random';

interface Process {
  schema: TObject;
  load: (env: Record<string, string | undefined>) => unknown;
  /** The least environment that loads (the required variables). */
  base: Record<string, string>;
}

const PROCESSES: Record<string, Process> = {
  api: { schema: ApiConfigSchema, load: loadApiConfig, base: { DATABASE_URL: 'postgres://x@127.0.0.1/x' } },
  worker: {
    schema: WorkerConfigSchema,
    load: loadWorkerConfig,
    base: { OCR_API_URL: 'http://127.0.0.1:8080', OCR_TOKEN: 'token' },
  },
  sweeper: {
    schema: SweeperConfigSchema,
    load: loadSweeperConfig,
    base: { DATABASE_URL: 'postgres://x@127.0.0.1/x' },
  },
  dev: { schema: DevConfigSchema, load: loadDevConfig, base: {} },
};

interface Bounds {
  type?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

/** Integers inside the variable's bounds (open ends capped at a million above the floor). */
function inRange(bounds: Bounds, next: () => number, count: number): number[] {
  const low = bounds.minimum ?? (bounds.exclusiveMinimum !== undefined ? bounds.exclusiveMinimum + 1 : 0);
  const high = bounds.maximum ?? low + 1_000_000;
  const values = new Set([low, high]);
  while (values.size < count) values.add(low + Math.floor(next() * (high - low + 1)));
  return [...values];
}

/** Texts that are not an integer, built around in-range values so only the notation is wrong. */
function notIntegers(valid: number[], next: () => number): string[] {
  const out = new Set<string>([
    '1.5',
    '0x10',
    '1e3',
    '1.0',
    '2.',
    '.5',
    ' 3',
    '3 ',
    '+',
    '-',
    '1_000',
    'abc',
  ]);
  out.add('Infinity').add('NaN').add('٣' /* an Arabic-Indic digit */).add('3\n');
  for (const n of valid) {
    out.add(`${n}.${1 + Math.floor(next() * 9)}`); // the truncation the issue reported
    out.add(`0x${n.toString(16)}`);
    out.add(`${n}e0`);
    out.add(` ${n}`);
  }
  return [...out];
}

/** Texts that are not a plain decimal number. */
const NOT_NUMBERS = ['0x10', ' 3', '3 ', 'Infinity', '-Infinity', 'NaN', '1,5', '1.2.3', 'abc', '+', '.'];

function problemsOf(process: Process, env: Record<string, string>): string[] | undefined {
  try {
    process.load(env);
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const next = random(17);
let integers = 0;
let numbers = 0;

for (const [name, process] of Object.entries(PROCESSES)) {
  t.test(`${name}: numeric variables`, async (t) => {
    t.same(problemsOf(process, process.base), undefined, 'the base environment loads');
    const props = Object.entries(process.schema.properties as Record<string, Bounds>);
    for (const [variable, bounds] of props.filter(([, s]) => s.type === 'integer')) {
      integers++;
      const valid = inRange(bounds, next, 6);
      for (const n of valid) {
        const config = process.load({ ...process.base, [variable]: String(n) }) as Record<string, unknown>;
        t.equal(config[variable], n, `${variable}=${n} loads as ${n}`);
      }
      for (const text of notIntegers(valid, next)) {
        const problems = problemsOf(process, { ...process.base, [variable]: text });
        t.same(
          problems,
          [`${variable}: must be an integer, digits only (got ${JSON.stringify(text)})`],
          `${variable}=${JSON.stringify(text)} is refused with one line`,
        );
      }
    }
    for (const [variable] of props.filter(([, s]) => s.type === 'number')) {
      numbers++;
      for (const text of NOT_NUMBERS) {
        const problems = problemsOf(process, { ...process.base, [variable]: text });
        t.same(
          problems,
          [`${variable}: must be a decimal number (got ${JSON.stringify(text)})`],
          `${variable}=${JSON.stringify(text)} is refused with one line`,
        );
      }
    }
  });
}

t.test('two bad variables give two lines, nothing truncated', async (t) => {
  const problems = problemsOf(PROCESSES.worker!, {
    ...PROCESSES.worker!.base,
    OCR_CONCURRENCY: '1.5',
    PORT: '80.9',
  });
  t.same(problems, [
    'OCR_CONCURRENCY: must be an integer, digits only (got "1.5")',
    'PORT: must be an integer, digits only (got "80.9")',
  ]);
});

// Runs after the tests above (tap runs top-level tests in order): a schema refactor that hid the variables
// from the walk would make this file vacuous.
t.test('the walk found the numeric variables', async (t) => {
  t.ok(integers >= 20, `${integers} integer variables`);
  t.ok(numbers >= 10, `${numbers} decimal variables`);
});
