// The Compare page in Chromium against a real API and worker: two ticked rows of the runs history open the
// side-by-side view (params diff, steps with status and duration, output diff, artifacts by name with their
// diff); "Compare with…" on a run page does the same; runs of two templates and a missing run show the
// API's 400/404 on the page.
import t from 'tap';
import type { Page } from 'playwright-core';
import { startTestWorker } from '@ocr/testkit';
import { startConsole, until } from './helpers/console.js';

/** A table's rows as one atomic read (per-row locators can wait on a row a re-render removed). */
type Rowish = { getAttribute(name: string): string | null; textContent: string | null };
const rowsOf = (page: Page, table: string, attr: string) =>
  page
    .locator(`table[aria-label="${table}"] tbody tr[${attr}]`)
    .evaluateAll(
      (trs, a) => (trs as unknown as Rowish[]).map((tr) => [tr.getAttribute(a), tr.textContent]),
      attr,
    );

t.test('compare: two ticked rows, compare-with on a run page, refusals', async (t) => {
  const c = await startConsole(t, { worker: false, s3: false });
  const { stack } = c;
  await startTestWorker(t, stack);
  await stack.client.templates.create({
    name: 'scale',
    default_lane: 'A',
    params_schema: {
      type: 'object',
      properties: { service: { type: 'string' }, replicas: { type: 'integer' } },
    },
    steps: [
      {
        name: 'render',
        kind: 'shell',
        script:
          'echo "rendering $OCR_PARAM_SERVICE"; printf "service: %s\\nreplicas: %s\\n" "$OCR_PARAM_SERVICE" "$OCR_PARAM_REPLICAS" > config.yaml; echo fixed > notes.txt; echo done',
        artifacts: [
          { path: 'config.yaml', kind: 'text' },
          { path: 'notes.txt', kind: 'text' },
        ],
      },
      {
        name: 'check',
        kind: 'shell',
        script: 'echo "checking $OCR_PARAM_REPLICAS"; test "$OCR_PARAM_REPLICAS" -le 5',
      },
    ],
  });
  await stack.client.templates.create({
    name: 'other',
    default_lane: 'A',
    steps: [{ name: 's', kind: 'noop' }],
  });
  const settle = (id: string) =>
    until(
      async () => {
        const { run } = await stack.client.runs.get(id);
        return !['queued', 'running'].includes(run.status) && run.status;
      },
      60_000,
      `run ${id} to finish`,
    );
  const a = (
    await stack.client.runs.create({ template: 'scale', params: { service: 'billing', replicas: 3 } })
  ).run;
  t.equal(await settle(a.id), 'success');
  const b = (
    await stack.client.runs.create({ template: 'scale', params: { service: 'billing', replicas: 9 } })
  ).run;
  t.equal(await settle(b.id), 'error');
  const other = (await stack.client.runs.create({ template: 'other' })).run;
  await settle(other.id);

  const checkComparison = async (page: Page, first: string, second: string) => {
    await page.getByRole('heading', { name: /Compare/ }).waitFor();
    await page.locator('table[aria-label="Params"]').waitFor();
    t.match(page.url(), new RegExp(`a=${first}&b=${second}`), 'the address names both runs');
    const [pa, pb] = first === a.id ? ['3', '9'] : ['9', '3'];
    t.same(
      await rowsOf(page, 'Params', 'data-param'),
      [
        ['replicas', `replicas${pa}${pb}`],
        ['service', 'service"billing""billing"'],
      ],
      'params: replicas differ, service is the same',
    );
    t.equal(
      await page.locator('tr[data-param="replicas"]').getAttribute('data-same'),
      'false',
      'replicas marked changed',
    );
    const steps = await rowsOf(page, 'Steps', 'data-step');
    t.same(
      steps.map(([name]) => name),
      ['render', 'check'],
      'steps in order',
    );
    const check = page.locator('tr[data-step="check"]');
    const statuses = await check
      .locator('[data-status]')
      .evaluateAll((els) => (els as unknown as Rowish[]).map((e) => e.getAttribute('data-status')));
    t.same(
      statuses,
      first === a.id ? ['success', 'error'] : ['error', 'success'],
      'check: status side by side',
    );
    t.equal(await check.locator('[data-fig="duration"]').count(), 2, 'a duration on each side');
    t.match(await check.locator('[data-fig="duration"]').first().textContent(), /^\d+ ms$|^\d+s$/);
    t.match(
      await page.locator('tr[data-step="render"] td').last().textContent(),
      /^same$/,
      'render printed the same lines in both runs',
    );
    t.equal(await page.locator('[data-output="render"]').count(), 0, 'so it has no output diff');
    const checkOut = page.locator('[data-output="check"] [data-viewer="diff"]');
    t.match(
      await checkOut.locator('.d-del').first().textContent(),
      `checking ${pa}`,
      'old side of check output',
    );
    t.match(
      await checkOut.locator('.d-add').first().textContent(),
      `checking ${pb}`,
      'new side of check output',
    );
    t.same(
      await page
        .locator('table[aria-label="Artifacts compared"] tbody tr[data-artifact]')
        .evaluateAll((trs) =>
          (trs as unknown as Rowish[]).map((tr) => [
            tr.getAttribute('data-artifact'),
            tr.getAttribute('data-state'),
          ]),
        ),
      [
        ['config.yaml', 'differs'],
        ['notes.txt', 'same'],
      ],
      'artifacts matched by name',
    );
    await page.getByRole('button', { name: 'Diff config.yaml' }).click();
    const artDiff = page.locator('tr.cmp-detail [data-viewer="diff"]');
    await artDiff.waitFor();
    t.match(await artDiff.locator('.d-del').first().textContent(), `replicas: ${pa}`, 'artifact diff, old');
    t.match(await artDiff.locator('.d-add').first().textContent(), `replicas: ${pb}`, 'artifact diff, new');
  };

  const page = await c.signedIn();
  await t.test('two ticked rows of the history', async () => {
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    await page.locator(`tr[data-run="${b.id}"]`).waitFor();
    const compare = page.getByRole('link', { name: 'Compare', exact: true });
    t.equal(await compare.count(), 0, 'no compare link before two rows are ticked');
    t.ok(await page.getByRole('button', { name: 'Compare', exact: true }).isDisabled(), 'compare disabled');
    await page.getByRole('checkbox', { name: `Compare run ${a.id.slice(0, 8)}` }).check();
    await page.getByRole('checkbox', { name: `Compare run ${b.id.slice(0, 8)}` }).check();
    await compare.click();
    await checkComparison(page, a.id, b.id);
    await c.shot(page, 'compare');
  });

  await t.test('compare with… from a run page', async () => {
    await page.goto(`${stack.apiUrl}/#/runs/${b.id}`);
    const menu = page.getByRole('dialog', { name: 'Compare with a recent run of scale' });
    await page.getByRole('button', { name: 'Compare with…' }).click();
    await menu.waitFor();
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'hidden' });
    t.pass('Escape closes the list');
    await page.getByRole('button', { name: 'Compare with…' }).click();
    await menu.locator(`a[data-run="${a.id}"]`).waitFor();
    t.equal(await menu.locator(`a[data-run="${b.id}"]`).count(), 0, 'the run itself is not offered');
    t.equal(await menu.locator(`a[data-run="${other.id}"]`).count(), 0, 'another template is not offered');
    await menu.locator(`a[data-run="${a.id}"]`).click();
    await checkComparison(page, b.id, a.id);
  });

  await t.test('refusals are shown', async () => {
    await page.goto(`${stack.apiUrl}/#/compare?a=${a.id}&b=${other.id}`);
    const refused = page.getByRole('alert', { name: 'Comparison refused' });
    await refused.waitFor();
    t.match(
      await refused.textContent(),
      /validation_failed.*template other, run a of scale/,
      'two templates: 400',
    );
    const missing = '00000000-0000-4000-8000-000000000000';
    await page.goto(`${stack.apiUrl}/#/compare?a=${a.id}&b=${missing}`);
    await page.getByRole('alert', { name: 'Comparison refused' }).filter({ hasText: 'not_found' }).waitFor();
    t.match(
      await page.getByRole('alert', { name: 'Comparison refused' }).textContent(),
      /not_found.*run b not found/,
      'missing run: 404',
    );
  });
});
