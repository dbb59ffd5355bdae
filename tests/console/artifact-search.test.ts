// The Artifacts page in Chromium: artifacts made through the worker protocol on two lanes and templates,
// found by template + name, by lane + kind, by size and by a name glob, and opened in the existing viewers.
import { createHash } from 'node:crypto';
import t from 'tap';
import { startConsole, until } from './helpers/console.js';

const DIFF = `--- a/config.yaml\n+++ b/config.yaml\n@@ -1,2 +1,2 @@\n service: billing\n-replicas: 2\n+replicas: 3\n`;

/** A table row as the page sees it (the tests' tsconfig has no DOM lib). */
type Attributed = { getAttribute(name: string): string | null };
t.test('artifacts page: filters narrow the table; a pick opens its viewer', async (t) => {
  const c = await startConsole(t, { worker: false, s3: false });
  const { stack } = c;
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
  const runs = [
    (await stack.client.runs.create({ template: 'deploy' })).run.id,
    (await stack.client.runs.create({ template: 'deploy' })).run.id,
    (await stack.client.runs.create({ template: 'nightly' })).run.id,
  ];
  const { client: worker } = await stack.tokenFor('worker');
  const claimed = await worker.worker.claim({ worker_id: 'w-page', lanes: ['A', 'B'], limit: 3 });
  const lease = new Map(claimed.runs.map((r) => [r.run.id, r.lease_token]));
  const files: [number, string, 'diff' | 'markdown' | 'json' | 'text', string, string][] = [
    [0, 'plan.diff', 'diff', 'text/x-diff', DIFF.replace('3', '4')],
    [1, 'plan.diff', 'diff', 'text/x-diff', DIFF],
    [1, 'report.md', 'markdown', 'text/markdown', '# Deploy report\n\nAll **green**.'],
    [2, 'metrics.json', 'json', 'application/json', JSON.stringify({ p95_ms: 120, ok: true })],
    [2, 'big.log', 'text', 'text/plain', 'x'.repeat(4096)],
  ];
  for (const [run, name, kind, type, body] of files) {
    await worker.worker.createArtifact(runs[run]!, {
      lease_token: lease.get(runs[run]!)!,
      name,
      kind,
      content_type: type,
      size: Buffer.byteLength(body),
      sha256: createHash('sha256').update(body).digest('hex'),
      content: body,
    });
  }

  const page = await c.signedIn();
  await page.getByRole('link', { name: 'Artifacts' }).click();
  await page.getByRole('heading', { name: 'Artifacts' }).waitFor();
  const rows = page.locator('table[aria-label="Artifacts"] tbody tr');
  // One atomic read (per-row locators wait for a row a re-render removed, past the caller's deadline).
  const names = () =>
    rows.evaluateAll((trs) => (trs as unknown as Attributed[]).map((tr) => tr.getAttribute('data-artifact')));
  let last: (string | null)[] = [];
  const settle = (want: string[]) =>
    until(async () => {
      const got = await names();
      last = got;
      return JSON.stringify(got) === JSON.stringify(want) && got;
    }).catch(() => {
      throw new Error(`wanted rows ${want.join(', ')}; showing ${last.join(', ')}`);
    });
  await settle(['big.log', 'metrics.json', 'report.md', 'plan.diff', 'plan.diff']);
  t.pass('all five, newest first');

  const form = page.getByRole('form', { name: 'Filter artifacts' });
  await form.getByLabel('Template').selectOption('deploy');
  await form.getByLabel('Name').fill('plan.diff');
  await form.getByRole('button', { name: 'Apply' }).click();
  await settle(['plan.diff', 'plan.diff']);
  t.pass('template + name: both plan.diff of deploy');
  await rows.first().getByRole('button', { name: 'plan.diff' }).click();
  const diff = page.locator('[data-viewer="diff"]');
  await diff.waitFor();
  t.match(await diff.textContent(), /replicas: 3/, 'the newest plan.diff opens in the diff viewer');
  await c.shot(page, 'artifacts-search');

  await form.getByLabel('Template').selectOption('');
  await form.getByLabel('Name').fill('');
  await form.getByLabel('Lane').selectOption('B');
  await settle(['big.log', 'metrics.json']);
  t.pass('lane B');
  await form.getByLabel('Kind').selectOption('json');
  await settle(['metrics.json']);
  await rows.first().getByRole('button', { name: 'metrics.json' }).click();
  await page.locator('[data-viewer="json"]').waitFor();
  t.pass('lane B + json opens the JSON viewer');

  await form.getByLabel('Kind').selectOption('');
  await form.getByLabel('Lane').selectOption('');
  await form.getByLabel('Min kB').fill('2');
  await form.getByRole('button', { name: 'Apply' }).click();
  await settle(['big.log']);
  t.pass('at least 2 kB');
  await form.getByLabel('Min kB').fill('');
  await form.getByLabel('Name').fill('*.MD');
  await form.getByRole('button', { name: 'Apply' }).click();
  await settle(['report.md']);
  await rows.first().getByRole('button', { name: 'report.md' }).click();
  t.match(
    await page.locator('[data-viewer="markdown"]').textContent(),
    /Deploy report/,
    'a glob, case-insensitive',
  );
  await form.getByLabel('Name').fill('nothing-like-this');
  await form.getByRole('button', { name: 'Apply' }).click();
  await page.getByText('No artifacts match these filters.').waitFor();
  t.pass('an empty result says so');
});
