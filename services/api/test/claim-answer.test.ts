// The claim answer is written by JSON.stringify (serialize.ts, claimAnswerBody) instead of the response
// schema's serialiser. Over generated runs — odd text, nulls, nested JSON, stored errors with members the
// wire does not carry — the bytes must parse to exactly what Fastify's serialiser for ClaimResponse writes.
import t from 'tap';
import Fastify from 'fastify';
import { ClaimResponse } from '@ocr/contracts';
import type { HotRun } from '@ocr/db';
import { seededRandom } from '@ocr/testkit/random';
import { claimAnswerBody, runToWire } from '../src/serialize.js';

/** Seeded: the same cases on every run. */
const rand = seededRandom(19);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
const chars = [
  'a',
  'Z',
  '0',
  ' ',
  '"',
  '\\',
  '/',
  '\n',
  '\t',
  '\u0001',
  '\u001f',
  'é',
  '€',
  '😀',
  '\u2028',
  '<',
];
const text = (max = 12) => Array.from({ length: Math.floor(rand() * max) }, () => pick(chars)).join('');
const uuid = () =>
  'xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx'.replace(/x/g, () => Math.floor(rand() * 16).toString(16));
const date = () => new Date(Math.floor(1.7e12 + rand() * 1e11));
const maybe = <T>(make: () => T): T | null => (rand() < 0.4 ? null : make());
function json(depth = 0): unknown {
  const kind = Math.floor(rand() * (depth > 2 ? 4 : 6));
  if (kind === 0) return null;
  if (kind === 1) return rand() < 0.5;
  if (kind === 2) return Math.floor(rand() * 2e6) - 1e6 + (rand() < 0.3 ? 0.5 : 0);
  if (kind === 3) return text();
  if (kind === 4) return Array.from({ length: Math.floor(rand() * 4) }, () => json(depth + 1));
  return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () => [text(6), json(depth + 1)]));
}

function run(): HotRun {
  return {
    id: uuid(),
    template: text() || 't',
    template_version: 1 + Math.floor(rand() * 50),
    lane: pick(['A', 'B', 'lane-x']),
    priority: Math.floor(rand() * 20) - 10,
    status: 'running',
    params: json(),
    labels: rand() < 0.5 ? {} : { [text(5)]: text() },
    attempt: 1 + Math.floor(rand() * 3),
    max_attempts: 3,
    run_at: date(),
    created_at: date(),
    started_at: maybe(date),
    finished_at: maybe(date),
    heartbeat_at: maybe(date),
    lease_expires_at: date(),
    lease_token: uuid(),
    worker_id: maybe(() => text() || 'w'),
    cancel_requested: rand() < 0.2,
    session_id: maybe(uuid),
    // A stored error may carry members the wire's RunError does not (a worker's completion is not strict).
    error: maybe(() => ({
      code: text() || 'c',
      message: text(),
      ...(rand() < 0.5 ? { details: json() } : {}),
      ...(rand() < 0.5 ? { extra: json(), stack: text() } : {}),
    })),
    output: rand() < 0.5 ? null : json(),
    retry_of: maybe(uuid),
    last_seq: Math.floor(rand() * 100),
  } as unknown as HotRun;
}

/** What the claim route builds (claim-orchestration.ts, leaseOf), for one run. */
function leaseOf(row: HotRun) {
  return {
    run: runToWire(row),
    lease_token: row.lease_token!,
    lease_expires_at: row.lease_expires_at!.toISOString(),
    steps: Array.from({ length: Math.floor(rand() * 3) }, () => ({ name: text(), kind: 'noop', x: json() })),
    timeout_s: rand() < 0.5 ? null : Math.floor(rand() * 3600),
    secret_params: rand() < 0.5 ? [] : [text(), text()],
  };
}

t.test(
  'claim answer: JSON.stringify bytes equal the ClaimResponse serialiser over generated runs',
  async (t) => {
    const app = Fastify();
    let answer: unknown;
    app.get('/', { schema: { response: { 200: ClaimResponse } } }, async () => answer);
    await app.ready();
    t.teardown(() => app.close());
    for (let round = 0; round < 60; round++) {
      answer = {
        heartbeat_interval_s: 1 + Math.floor(rand() * 10),
        heartbeat_timeout_s: 15,
        runs: Array.from({ length: round % 10 === 0 ? 0 : 1 + Math.floor(rand() * 20) }, () =>
          leaseOf(run()),
        ),
      };
      const bySchema = (await app.inject({ method: 'GET', url: '/' })).body;
      const ours = claimAnswerBody(answer).toString('utf8');
      t.same(JSON.parse(ours), JSON.parse(bySchema), `round ${round}`);
    }
  },
);

t.test('a stored error goes on the wire as code, message and details only', async (t) => {
  const row = run();
  (row as { error: unknown }).error = { code: 'boom', message: 'm', details: { a: 1 }, stack: 'secret' };
  t.same(runToWire(row).error, { code: 'boom', message: 'm', details: { a: 1 } });
  (row as { error: unknown }).error = { code: 'boom', message: 'm' };
  t.same(runToWire(row).error, { code: 'boom', message: 'm' });
  (row as { error: unknown }).error = null;
  t.equal(runToWire(row).error, null);
});
