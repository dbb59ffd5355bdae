/**
 * GET /v1/artifacts: every filter finds exactly the right artifacts (made through the worker protocol),
 * paging walks them all once, a scoped token sees only its own, bad filters are 400s; and at scale
 * (OCR_ARTIFACT_SEARCH_ROWS synthetic artifacts, 200,000 by default) every search plan uses an index, never
 * a scan of the table, with the API's answer time printed.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import {
  explainSearchArtifacts,
  insertSyntheticArtifacts,
  vacuumAnalyze,
  type ArtifactSearchFilter,
} from '@ocr/db';
import { startStack, type Stack } from '@ocr/testkit';
import { raw } from './helpers.js';

const ROWS = Number(process.env.OCR_ARTIFACT_SEARCH_ROWS) || 200_000;

interface Made {
  id: string;
  name: string;
  run: string;
}

/** Claim the runs as a worker and attach inline artifacts to each, in the order given. */
async function attach(
  stack: Stack,
  lanes: string[],
  files: {
    run: number;
    name: string;
    kind: 'markdown' | 'diff' | 'json' | 'image';
    type: string;
    body: string;
  }[],
  runIds: string[],
): Promise<Made[]> {
  const { client } = await stack.tokenFor('worker');
  const claimed = await client.worker.claim({ worker_id: 'w-art', lanes, limit: runIds.length });
  const lease = new Map(claimed.runs.map((c) => [c.run.id, c.lease_token]));
  const made: Made[] = [];
  for (const f of files) {
    const run = runIds[f.run]!;
    const { artifact } = await client.worker.createArtifact(run, {
      lease_token: lease.get(run)!,
      name: f.name,
      kind: f.kind,
      content_type: f.type,
      size: Buffer.byteLength(f.body),
      sha256: createHash('sha256').update(f.body).digest('hex'),
      content: f.body,
    });
    made.push({ id: artifact.id, name: f.name, run });
  }
  return made;
}

t.test('artifact search: each filter, paging, scope, bad input, and index plans at scale', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create({
    name: 'deploy',
    default_lane: 'A',
    steps: [{ name: 's', kind: 'noop' }],
  });
  await stack.client.templates.create({
    name: 'nightly',
    default_lane: 'B',
    steps: [{ name: 's', kind: 'noop' }],
  });
  const d1 = (await stack.client.runs.create({ template: 'deploy' })).run.id;
  const d2 = (await stack.client.runs.create({ template: 'deploy' })).run.id;
  const n1 = (await stack.client.runs.create({ template: 'nightly' })).run.id;
  const made = await attach(
    stack,
    ['A', 'B'],
    [
      { run: 0, name: 'plan.diff', kind: 'diff', type: 'text/x-diff', body: '--- a\n+++ b\n' },
      { run: 0, name: 'report.md', kind: 'markdown', type: 'text/markdown', body: '# one' },
      { run: 1, name: 'plan.diff', kind: 'diff', type: 'text/x-diff', body: '--- a\n+++ c\n-x\n+y\n' },
      { run: 1, name: 'result.json', kind: 'json', type: 'application/json', body: '{"ok":true}' },
      { run: 2, name: 'Shot_1.png', kind: 'image', type: 'image/png', body: 'P'.repeat(2048) },
      { run: 2, name: 'plan-nightly.diff', kind: 'diff', type: 'text/x-diff', body: '-' },
    ],
    [d1, d2, n1],
  );
  const id = (name: string, run: string) => made.find((m) => m.name === name && m.run === run)!.id;
  const search = async (query: Record<string, string | number>) =>
    (await stack.client.artifacts.search(query)).artifacts.map((a) => a.id);
  const newestFirst = [...made].reverse().map((m) => m.id);

  t.same(await search({}), newestFirst, 'everything, newest first');
  t.same(
    await search({ template: 'deploy', name: 'plan.diff', limit: 1 }),
    [id('plan.diff', d2)],
    'the last plan.diff of deploy',
  );
  t.same(await search({ run_id: d1 }), [id('report.md', d1), id('plan.diff', d1)]);
  t.same(await search({ lane: 'B', kind: 'image' }), [id('Shot_1.png', n1)], 'the images of lane B');
  t.same(await search({ content_type: 'application/json' }), [id('result.json', d2)]);
  t.same(
    await search({ name: 'plan*.diff' }),
    [id('plan-nightly.diff', n1), id('plan.diff', d2), id('plan.diff', d1)],
    'a glob',
  );
  t.same(
    await search({ name: 'SHOT_?.PNG' }),
    [id('Shot_1.png', n1)],
    '? is one character, case-insensitive',
  );
  t.same(await search({ name: 'shot_' }), [id('Shot_1.png', n1)], 'a substring; _ is literal');
  t.same(await search({ name: '%' }), [], '% is literal');
  t.same(await search({ min_size: 1000 }), [id('Shot_1.png', n1)], 'at least 1000 bytes');
  t.same(await search({ max_size: 1, kind: 'diff' }), [id('plan-nightly.diff', n1)], 'at most 1 byte');
  const all = (await stack.client.artifacts.search({})).artifacts;
  const mid = all[2]!.created_at;
  t.same(
    await search({ created_after: mid }),
    all.filter((a) => a.created_at >= mid).map((a) => a.id),
    'created after (inclusive)',
  );
  t.same(
    await search({ created_before: mid }),
    all.filter((a) => a.created_at < mid).map((a) => a.id),
    'created before (exclusive)',
  );
  const first = all[0]!;
  t.equal(first.template, 'nightly');
  t.equal(first.lane, 'B');

  const paged: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await stack.client.artifacts.search({ limit: 2, ...(cursor ? { cursor } : {}) });
    paged.push(...page.artifacts.map((a) => a.id));
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  t.same(paged, newestFirst, 'pages of 2 walk every artifact once, in order');

  const scoped = await stack.client.tokens.create({ name: 'lane-a', role: 'viewer', lanes: ['A'] });
  const { createClient } = await import('@ocr/client');
  const laneA = createClient({ baseUrl: stack.apiUrl, token: scoped.token });
  t.same(
    (await laneA.artifacts.search({})).artifacts.map((a) => a.lane),
    ['A', 'A', 'A', 'A'],
    'a token scoped to lane A sees only lane A',
  );
  await t.rejects(laneA.artifacts.search({ lane: 'B' }), { status: 403, code: 'out_of_scope' });

  for (const [query, field] of [
    ['min_size=10&max_size=5', 'min_size'],
    ['kind=video', 'kind'],
    ['min_size=-1', 'min_size'],
    ['limit=0', 'limit'],
    ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
    ['run_id=nope', 'run_id'],
    ['created_after=last-week', 'created_after'],
    ['name=', 'name'],
    ['colour=red', 'colour'],
  ] as const) {
    const res = await raw(stack, 'GET', `/v1/artifacts?${query}`);
    t.equal(res.status, 400, `${query} is refused`);
    t.match(res.json.error.message, field, `naming ${field}`);
  }
  t.equal((await raw(stack, 'GET', '/v1/artifacts', { token: null })).status, 401);

  // At scale: synthetic artifacts over the three runs, then every search must use an index.
  let started = Date.now();
  await insertSyntheticArtifacts(stack.db.db, { runIds: [d1, d2, n1], count: ROWS });
  await vacuumAnalyze(stack.db.db, ['artifacts']);
  t.comment(`${ROWS} artifacts inserted and analysed in ${Date.now() - started} ms`);
  const cases: [string, Omit<ArtifactSearchFilter, 'limit'>][] = [
    ['newest', {}],
    ['template + name', { template: 'deploy', name: 'plan.diff' }],
    [
      'lane + kind + week',
      { lane: 'B', kind: 'image', created_after: new Date(Date.now() - 7 * 86_400_000).toISOString() },
    ],
    ['rare name glob', { name: 'plan.diff' }],
    ['content type', { content_type: 'application/zip' }],
    ['run', { run_id: d1 }],
    ['large files', { min_size: 4_999_000 }],
  ];
  for (const [label, filter] of cases) {
    const plan = await explainSearchArtifacts(stack.db.db, { ...filter, limit: 51 });
    t.notMatch(plan, /Seq Scan on artifacts/, `${label}: no table scan`);
    t.match(plan, /Index|Bitmap/, `${label}: an index`);
    const query = Object.fromEntries(Object.entries(filter).map(([k, v]) => [k, v as string | number]));
    started = performance.now();
    const answer = await stack.client.artifacts.search({ ...query, limit: 50 });
    const ms = performance.now() - started;
    t.ok(answer.artifacts.length > 0, `${label}: found some`);
    t.comment(
      `${label}: ${ms.toFixed(1)} ms through the API at ${ROWS} artifacts; plan: ${plan
        .split('\n')
        .find((l) => /Index|Bitmap/.test(l))
        ?.trim()}`,
    );
  }
});
