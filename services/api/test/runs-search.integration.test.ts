/**
 * Run history search at scale: `q` (free text, trigram index) and `params` (key/value containment,
 * jsonb_path_ops index) find the right runs, never through a secret param, refuse bad filters, and use
 * their indexes on a table of many runs (EXPLAIN). The date range is exact at its bounds.
 */
import t from 'tap';
import { vacuumAnalyze, enqueueRuns, explainListRuns } from '@ocr/db';
import { startStack } from '@ocr/testkit';
import { raw } from './helpers.js';

const TEMPLATE = {
  name: 'deploy',
  params_schema: {
    type: 'object',
    properties: {
      env: { type: 'string' },
      region: { type: 'string' },
      build: { type: 'integer' },
      token: { type: 'string', writeOnly: true },
    },
  },
  steps: [{ name: 'noop', kind: 'noop' as const }],
};
const FILLER = 20_000;

t.test('q and params find runs through their indexes, never through a secret', async (t) => {
  const stack = await startStack(t, { s3: false });
  const template = await stack.client.templates.create(TEMPLATE);
  // Many ordinary runs, so the planner has a real choice between a scan and an index.
  for (let offset = 0; offset < FILLER; offset += 1000) {
    await enqueueRuns(
      stack.db.db,
      Array.from({ length: 1000 }, (_, i) => ({
        template: 'deploy',
        template_version: template.version,
        lane: 'A',
        params: {
          env: 'staging',
          region: `eu-${(offset + i) % 7}`,
          build: offset + i,
          token: 'filler-secret',
        },
        labels: { team: `team-${(offset + i) % 13}` },
      })),
    );
  }
  const prod = await stack.client.runs.create({
    template: 'deploy',
    params: { env: 'prod', region: 'ap-south-9', build: 424242, token: 'hunter2-prod-secret' },
    labels: { ticket: 'OPS-77731' },
  });
  await vacuumAnalyze(stack.db.db, ['runs', 'run_search']);
  const { client: viewer } = await stack.tokenFor('viewer');
  const ids = async (query: Record<string, string>) =>
    (await viewer.runs.list({ ...query, limit: 5 })).runs.map((r) => r.id);

  t.same(await ids({ q: 'ap-south-9' }), [prod.run.id], 'a param value substring');
  t.same(await ids({ q: 'AP-SOUTH' }), [prod.run.id], 'case-insensitively');
  t.same(await ids({ q: 'OPS-7773' }), [prod.run.id], 'a label');
  t.same(await ids({ q: '424242' }), [prod.run.id], 'a number in the params');
  t.same(await ids({ q: 'hunter2' }), [], 'never a secret param');
  t.same(await ids({ q: 'filler-secret' }), [], 'not even on the many filler runs');
  t.same(await ids({ q: '50%_' }), [], '% and _ match literally');
  t.same(await ids({ params: '{"env":"prod"}' }), [prod.run.id], 'key/value containment');
  t.same(await ids({ params: '{"env":"prod","build":424242}' }), [prod.run.id], 'several keys, typed');
  t.same(await ids({ params: '{"build":"424242"}' }), [], 'a string is not the number');
  t.same(await ids({ params: '{"token":"hunter2-prod-secret"}' }), [], 'a secret param never matches');
  t.equal((await viewer.runs.list({ params: '{"region":"eu-3"}', limit: 200 })).runs.length, 200);

  for (const bad of ['{', '[1]', '"env"', '42', 'null', '{"a":1']) {
    const res = await raw(stack, 'GET', `/v1/runs?params=${encodeURIComponent(bad)}`);
    t.equal(res.status, 400, `params=${bad} is refused`);
    t.equal(res.json.error.code, 'validation_failed');
    t.match(res.json.error.message, /params/);
  }

  const textPlan = await explainListRuns(stack.db.db, { q: 'ap-south-9', limit: 51 });
  t.match(textPlan, /run_search_text_trgm_idx/, 'free text uses the trigram index (on run_search)');
  t.notMatch(textPlan, /Seq Scan on runs/);
  const keyPlan = await explainListRuns(stack.db.db, { params: { env: 'prod' }, limit: 51 });
  t.match(keyPlan, /run_search_params_idx/, 'key/value uses the jsonb_path_ops index (on run_search)');
  t.notMatch(keyPlan, /Seq Scan on runs/);
  t.comment(`q plan:\n${textPlan}\nparams plan:\n${keyPlan}`);
});

t.test('the date range is exact at its bounds and combines with the other filters', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create(TEMPLATE);
  const made: Awaited<ReturnType<typeof stack.client.runs.create>>['run'][] = [];
  for (let i = 0; i < 5; i++) {
    const { run } = await stack.client.runs.create({
      template: 'deploy',
      params: { env: i % 2 ? 'prod' : 'dev' },
    });
    made.push(run);
    // Distinct creation times (millisecond precision, same host clock): the next run starts in a later millisecond.
    while (Date.now() <= Date.parse(run.created_at)) await new Promise((r) => setImmediate(r));
  }
  const times = made.map((r) => Date.parse(r.created_at));
  t.same(
    [...times].sort((a, b) => a - b),
    times,
    'created in order',
  );
  t.ok(new Set(times).size === times.length, 'each in its own millisecond');
  const ids = async (query: Record<string, string>) =>
    (await stack.client.runs.list(query)).runs.map((r) => r.id).reverse();
  const at = (i: number) => made[i]!.created_at;
  t.same(
    await ids({ created_after: at(1), created_before: at(3) }),
    [made[1]!.id, made[2]!.id],
    '[after, before)',
  );
  t.same(await ids({ created_after: at(4) }), [made[4]!.id], 'after is inclusive');
  t.same(await ids({ created_before: at(0) }), [], 'before is exclusive');
  t.same(
    await ids({ created_after: at(0), created_before: at(4), params: '{"env":"prod"}' }),
    [made[1]!.id, made[3]!.id],
    'with a params filter',
  );
  const later = new Date(Date.parse(at(4)) + 60_000).toISOString();
  t.same(await ids({ created_after: later }), [], 'nothing after the last');
  const res = await raw(stack, 'GET', `/v1/runs?created_after=yesterday`);
  t.equal(res.status, 400);
});
