/**
 * GET /v1/runs/compare on two real runs (a worker runs them): params diff, steps side by side with status,
 * duration and output, artifacts matched by name with whether they differ; unknown runs, bad ids and
 * out-of-scope runs and runs of two templates are refused.
 */
import t from 'tap';
import { finished, startStack, startTestWorker } from '@ocr/testkit';
import { raw } from './helpers.js';

t.test('compare two runs of a template', async (t) => {
  const stack = await startStack(t);
  const worker = await startTestWorker(t, stack);
  await stack.client.templates.create({
    name: 'greet',
    params_schema: {
      type: 'object',
      properties: {
        who: { type: 'string' },
        fail: { type: 'string' },
        pin: { type: 'string', writeOnly: true },
      },
    },
    steps: [
      {
        name: 'hello',
        kind: 'shell',
        script:
          'echo "hello $OCR_PARAM_WHO"; echo constant; echo "$OCR_PARAM_WHO" > who.txt; echo same > same.txt',
        artifacts: [
          { path: 'who.txt', kind: 'text' },
          { path: 'same.txt', kind: 'text' },
        ],
      },
      { name: 'check', kind: 'shell', script: 'echo checking; test "$OCR_PARAM_FAIL" != yes' },
    ],
  });
  const a = (
    await stack.client.runs.create({ template: 'greet', params: { who: 'ann', fail: 'no', pin: 's1' } })
  ).run;
  const endA = finished(worker, a.id);
  t.equal(await endA, 'success');
  const b = (
    await stack.client.runs.create({ template: 'greet', params: { who: 'bob', fail: 'yes', pin: 's1' } })
  ).run;
  const endB = finished(worker, b.id);
  t.equal(await endB, 'error');

  const cmp = await stack.client.runs.compare(a.id, b.id);
  t.equal(cmp.a.id, a.id);
  t.equal(cmp.b.id, b.id);
  const param = (key: string) => cmp.params.find((p) => p.key === key)!;
  t.same(param('who'), { key: 'who', a: 'ann', b: 'bob', same: false });
  t.same(param('fail'), { key: 'fail', a: 'no', b: 'yes', same: false });
  t.not(param('pin').a, 's1', 'a secret param stays masked');
  t.same(
    cmp.steps.map((s) => s.name),
    ['hello', 'check'],
  );
  const hello = cmp.steps[0]!;
  t.equal(hello.a!.status, 'success');
  t.equal(hello.b!.status, 'success');
  t.match(hello.a!.output, /hello ann\nconstant/);
  t.match(hello.b!.output, /hello bob\nconstant/);
  t.ok(hello.a!.duration_ms! >= 0, 'a duration');
  const check = cmp.steps[1]!;
  t.equal(check.a!.status, 'success');
  t.equal(check.b!.status, 'error', 'the failing step, side by side');
  t.not(check.b!.exit_code, 0);
  const art = (name: string) => cmp.artifacts.find((x) => x.name === name)!;
  t.equal(art('who.txt').same, false, 'who.txt differs');
  t.equal(art('same.txt').same, true, 'same.txt is the same');
  t.ok(art('who.txt').a && art('who.txt').b);
  t.equal(cmp.output_truncated, false);

  const missing = '00000000-0000-4000-8000-000000000000';
  t.equal((await raw(stack, 'GET', `/v1/runs/compare?a=${a.id}&b=${missing}`)).status, 404);
  for (const q of [`a=${a.id}`, `a=x&b=${b.id}`, `a=${a.id}&b=${b.id}&c=1`]) {
    const res = await raw(stack, 'GET', `/v1/runs/compare?${q}`);
    t.equal(res.status, 400, `${q} is refused`);
    t.equal(res.json.error.code, 'validation_failed');
  }
  await stack.client.templates.create({ name: 'other', steps: [{ name: 's', kind: 'noop' }] });
  const other = (await stack.client.runs.create({ template: 'other' })).run;
  const cross = await raw(stack, 'GET', `/v1/runs/compare?a=${a.id}&b=${other.id}`);
  t.equal(cross.status, 400, 'runs of two templates are refused');
  t.equal(cross.json.error.code, 'validation_failed');
  t.match(cross.json.error.message, /run b is of template other, run a of greet/);
  const scoped = await stack.client.tokens.create({ name: 'other', role: 'viewer', templates: ['other'] });
  const res = await raw(stack, 'GET', `/v1/runs/compare?a=${a.id}&b=${b.id}`, { token: scoped.token });
  t.equal(res.status, 403);
});
