/**
 * Regression: `q` searched the raw params text, so a viewer could probe a secret param's value by searching
 * for it (the answer showed it masked, but whether a run matched gave the value away).
 */
import t from 'tap';
import { startStack } from '@ocr/testkit';

t.test('a search never matches on a secret param, and still matches on the others', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create({
    name: 'with-secret',
    params_schema: {
      type: 'object',
      properties: {
        token: { type: 'string', writeOnly: true },
        pin: { type: 'string', format: 'password' },
        who: { type: 'string' },
      },
    },
    steps: [{ name: 'noop', kind: 'noop' }],
  });
  const { run } = await stack.client.runs.create({
    template: 'with-secret',
    params: { token: 'probe-me-token-123', pin: 'probe-me-pin-456', who: 'visible-person-789' },
  });
  const { client: viewer } = await stack.tokenFor('viewer');
  const ids = async (q: string) => (await viewer.runs.list({ q })).runs.map((r) => r.id);
  for (const probe of ['probe-me-token-123', 'probe-me-token', 'token-123', 'probe-me-pin-456', 'probe-me']) {
    t.same(await ids(probe), [], `"${probe}" matches nothing`);
  }
  t.same(await ids('visible-person'), [run.id], 'a plain param is still searchable');
  t.same(await ids('with-secret'), [run.id], 'and the template name');
});
