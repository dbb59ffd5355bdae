import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import t from 'tap';
import type { Page } from 'playwright-core';
import { startConsole, until } from './helpers/console.js';
import { gradientPng } from './helpers/png.js';

const REPORT = `# Deploy report

| service | replicas |
|---|---|
| billing | 3 |

<script>globalThis.__pwned = 1</script>
<img src="x" onerror="globalThis.__pwned = 2">

[a link](javascript:globalThis.__pwned=3)
`;
const DIFF = `--- a/config.yaml
+++ b/config.yaml
@@ -1,4 +1,4 @@
 service: billing
-replicas: 2
+replicas: 3
 region: fra1
-image: billing:1.4
+image: billing:1.5
`;

const EXAMPLES = resolve(import.meta.dirname, '../../examples/templates');
const heredoc = (file: string, text: string) => `cat > ${file} <<'OCR_EOF'\n${text}\nOCR_EOF`;

t.test(
  'console: artifact viewers, run export, template editor with API validation and preview, workers, Spec Kit',
  async (t) => {
    const c = await startConsole(t);
    const { stack } = c;
    const png = gradientPng();
    await stack.client.templates.create({
      name: 'make_artifacts',
      steps: [
        {
          name: 'produce',
          kind: 'shell',
          script: [
            heredoc('report.md', REPORT),
            heredoc(
              'data.json',
              JSON.stringify({
                service: 'billing',
                replicas: 3,
                nested: { healthy: true, zones: ['fra1', 'ams3'] },
              }),
            ),
            heredoc('change.diff', DIFF),
            `echo '${png.toString('base64')}' | base64 -d > chart.png`,
            'head -c 3000 /dev/urandom > blob.bin',
            'echo done',
          ].join('\n'),
          artifacts: [
            { path: 'report.md', kind: 'markdown' },
            { path: 'data.json', kind: 'json' },
            { path: 'change.diff', kind: 'diff' },
            { path: 'chart.png', kind: 'image' },
            { path: 'blob.bin', kind: 'file' },
          ],
        },
      ],
    });
    const { run } = await stack.client.runs.create({ template: 'make_artifacts' });
    await until(
      async () => (await stack.client.runs.get(run.id)).run.status === 'success',
      30_000,
      'artifact run',
    );
    t.equal((await stack.client.runs.artifacts(run.id)).artifacts.length, 5, 'five artifacts uploaded');
    const page = await c.signedIn();

    const openArtifact = async (p: Page, name: string) => {
      await p.locator(`a.art-card[data-artifact="${name}"]`).click();
      await p.locator(`.viewer[aria-label="Artifact ${name}"]`).waitFor();
    };

    await t.test(
      'each artifact viewer: markdown (sanitised), JSON tree, side-by-side diff, image, download',
      async (t) => {
        await page.goto(`${stack.apiUrl}/#/runs/${run.id}/artifacts`);
        await page.locator('a.art-card').first().waitFor();
        t.equal(await page.locator('a.art-card').count(), 5, 'gallery shows every artifact');

        await openArtifact(page, 'report.md');
        const md = page.locator('[data-viewer="markdown"]');
        await md.getByRole('heading', { name: 'Deploy report' }).waitFor();
        t.equal(await md.locator('table td').first().textContent(), 'billing', 'markdown table rendered');
        t.equal(
          await md.locator('script, [onerror]').count(),
          0,
          'no script and no event handlers survive sanitising',
        );
        await md.getByText('a link').waitFor();
        t.equal(await md.locator('a[href^="javascript"]').count(), 0, 'javascript: link neutralised');
        t.equal(await page.evaluate('globalThis.__pwned'), undefined, 'nothing from the artifact ran');
        await c.shot(page, 'viewer-markdown');

        await openArtifact(page, 'data.json');
        const json = page.locator('[data-viewer="json"]');
        await json.getByText('replicas').first().waitFor();
        await json.getByText('zones').first().waitFor();
        t.pass('JSON tree shows keys, nested ones too');
        await c.shot(page, 'viewer-json');

        await openArtifact(page, 'change.diff');
        const diff = page.locator('[data-viewer="diff"]');
        await diff.locator('caption').filter({ hasText: 'config.yaml' }).waitFor();
        const changed = diff.locator('tr', { has: page.locator('td.d-del') }).first();
        t.equal(await changed.locator('td.d-del').textContent(), 'replicas: 2', 'old line on the left');
        t.equal(
          await changed.locator('td.d-add').textContent(),
          'replicas: 3',
          'new line beside it on the right',
        );
        await c.shot(page, 'viewer-diff');

        await openArtifact(page, 'chart.png');
        const img = page.locator('[data-viewer="image"] img');
        await img.waitFor();
        await until(
          async () =>
            (await img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)) === 96,
          10_000,
          'image decoded',
        );
        t.pass('image loaded from object storage and decoded (96 px wide)');
        await c.shot(page, 'viewer-image');

        await openArtifact(page, 'blob.bin');
        await page.locator('[data-viewer="file"]').waitFor();
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: 'Download blob.bin' }).click(),
        ]);
        const bytes = await readFile((await download.path())!);
        t.equal(bytes.length, 3000, 'downloaded file has its size');
        await c.shot(page, 'viewer-file');
      },
    );

    await t.test('run export (JSON and Markdown), timeline and events', async (t) => {
      await page.goto(`${stack.apiUrl}/#/runs/${run.id}/logs`);
      const [jsonDl] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Export JSON', exact: true }).first().click(),
      ]);
      const doc = JSON.parse(await readFile((await jsonDl.path())!, 'utf8')) as {
        run: { id: string };
        artifacts: unknown[];
        events: unknown[];
      };
      t.equal(doc.run.id, run.id, 'JSON export is the run');
      t.equal(doc.artifacts.length, 5, 'with its artifacts');
      const [mdDl] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Export Markdown' }).click(),
      ]);
      t.match(
        await readFile((await mdDl.path())!, 'utf8'),
        new RegExp(`^# Run ${run.id}`),
        'Markdown export',
      );
      await page.getByRole('link', { name: 'Timeline' }).click();
      await page.locator('.gantt-row').filter({ hasText: 'produce' }).waitFor();
      await page.locator('.ms[data-type="step.finished"]').waitFor();
      await c.shot(page, 'run-timeline');
      await page.getByRole('link', { name: 'Events' }).click();
      await page.getByLabel('Type').selectOption('artifact');
      await until(
        async () => (await page.locator('.events-table tbody tr').count()) === 5,
        10_000,
        'artifact events',
      );
      t.pass('events filtered by type');
    });

    await t.test(
      'template editor: every step kind, API validation messages, params builder, save, preview, run',
      async (t) => {
        await page.goto(`${stack.apiUrl}/#/templates/new`);
        const form = page.getByRole('form', { name: 'Template' });
        await form.getByLabel('Name', { exact: true }).first().fill('ui_made');
        const step = form.locator('fieldset.step').first();
        const validation = page.getByTestId('validation');
        await validation.filter({ hasText: 'Valid template' }).waitFor();

        // The API's message for a bad step name shows at the field and in the summary.
        await step.getByLabel('Name', { exact: true }).fill('bad name!');
        await validation.filter({ hasText: 'steps[0].name' }).waitFor();
        await step.locator('.field-error').first().waitFor();
        await c.shot(page, 'template-validation');
        await step.getByLabel('Name', { exact: true }).fill('greet');
        await validation.filter({ hasText: 'Valid template' }).waitFor();

        const kindField: Record<string, string> = {
          docker: 'Image',
          http: 'URL',
          mcp: 'Tool',
          'spec-kit.generate': 'Input (JSON object)',
          'spec-kit.validate': 'Input (JSON object)',
          shell: 'Script',
        };
        for (const [kind, label] of Object.entries(kindField)) {
          await step.getByLabel('Kind', { exact: true }).selectOption(kind);
          await step.getByLabel(label, { exact: true }).waitFor();
          await until(
            async () => (await validation.textContent())?.includes('Valid template'),
            10_000,
            `${kind} step valid`,
          );
        }
        await step.getByLabel('Kind', { exact: true }).selectOption('noop');
        await step.getByText('Does nothing').waitFor();
        await step.getByLabel('Kind', { exact: true }).selectOption('shell');
        t.pass('each step kind has its editor and its defaults pass the API validation');

        await form.getByRole('button', { name: '+ Add param' }).click();
        await form.getByLabel('Param 1 name').fill('who');
        await form.getByLabel('Param 1 title').fill('Who');
        await form.getByLabel('Param 1 default').fill('world');
        await form.getByLabel('Param 1 required').check();
        await step.getByLabel('Script', { exact: true }).fill('echo "hello {{params.who}}"');
        await validation.filter({ hasText: 'Valid template' }).waitFor();
        await c.shot(page, 'template-editor');
        await form.getByRole('button', { name: 'Create template' }).click();
        await page.waitForURL(/#\/templates\/ui_made\/edit/);
        const saved = await stack.client.templates.get('ui_made');
        t.same(
          saved.params_schema,
          {
            type: 'object',
            properties: { who: { type: 'string', title: 'Who', default: 'world' } },
            required: ['who'],
            additionalProperties: false,
          },
          'builder made the schema',
        );

        await page.getByLabel('Params (JSON)').fill('{"who": "there"}');
        await page.getByRole('button', { name: 'Preview', exact: true }).click();
        const rendered = (
          (await stack.client.templates.preview('ui_made', { who: 'there' })).steps[0] as { script: string }
        ).script;
        t.not(rendered, 'echo "hello {{params.who}}"', 'the API renders the placeholder');
        await page.getByTestId('preview').getByText(rendered, { exact: false }).waitFor();
        t.pass('preview shows the step as the API renders it');

        await page.getByRole('link', { name: 'Run…' }).click();
        await page.getByRole('textbox', { name: /^Who/ }).fill('console');
        await page.getByRole('button', { name: 'Start run' }).click();
        await page
          .getByRole('log', { name: 'Run log' })
          .getByText('hello console')
          .waitFor({ timeout: 20_000 });
        t.pass('the saved template runs from its generated form');
      },
    );

    await t.test('workers fleet and the Spec Kit panel', async (t) => {
      await page.getByRole('link', { name: 'Workers' }).click();
      const row = page.locator('table[aria-label="Workers"] tbody tr').first();
      await row.waitFor();
      t.match(await row.textContent(), /live/, 'the test worker is live');
      t.match(await row.textContent(), /A/, 'serving lane A');
      await c.shot(page, 'workers');

      // Without the templates the panel says so; with them it generates, previews, downloads and validates.
      await page.getByRole('link', { name: 'Spec Kit' }).click();
      await page.getByTestId('missing-generate_spec_kit').waitFor();
      await page.getByTestId('missing-validate_spec_kit').waitFor();
      t.pass('a clear message while the Spec Kit templates are not installed');
      await c.shot(page, 'spec-kit-missing');
    });

    await t.test(
      'Spec Kit panel: generate from the template form, preview the files, download the zip, validate',
      async (t) => {
        for (const file of ['generate_spec_kit.yaml', 'validate_spec_kit.yaml']) {
          await stack.client.templates.create(parse(await readFile(join(EXAMPLES, file), 'utf8')));
        }
        await page.goto(`${stack.apiUrl}/#/spec-kit`);
        await page.reload();
        const gen = page.getByRole('region', { name: 'Generate', exact: true });
        await gen.getByRole('button', { name: 'Generate spec kit' }).waitFor();
        await gen.getByRole('textbox', { name: /^name/ }).fill('Billing revamp');
        // goals has minItems 1: the form starts with one field; the array's add button makes a second.
        await gen
          .getByRole('textbox', { name: /^goals-1/ })
          .fill('Invoices are sent on the first of the month');
        await gen.locator('#generate_spec_kit_goals__add').click();
        await gen.getByRole('textbox', { name: /^goals-2/ }).fill('Failed payments are retried twice');
        await gen.getByRole('button', { name: 'Generate spec kit' }).click();
        await page.waitForURL(/#\/spec-kit\?run=/);
        const runId = new URL(page.url().replace('#/spec-kit', 'spec-kit')).searchParams.get('run')!;
        await until(
          async () => (await stack.client.runs.get(runId)).run.status === 'success',
          30_000,
          'generate run',
        );
        await gen.locator(`.spec-result[data-run="${runId}"] .badge[data-status="success"]`).waitFor();
        const cards = gen.locator('a.art-card');
        await until(async () => (await cards.count()) >= 5, 10_000, 'kit files');
        const names = await Promise.all(
          (await cards.all()).map((card) => card.getAttribute('data-artifact')),
        );
        for (const doc of ['constitution.md', 'prd.md', 'plan.md', 'tasks.md'])
          t.ok(
            names.some((n) => n?.endsWith(doc)),
            `${doc} in the gallery`,
          );
        const prd = names.find((n) => n?.endsWith('prd.md'))!;
        await gen.locator(`a.art-card[data-artifact="${prd}"]`).click();
        await gen
          .locator('[data-viewer="markdown"]')
          .getByText('Invoices are sent on the first of the month')
          .first()
          .waitFor();
        t.pass('the PRD renders with the goal as a requirement');
        await c.shot(page, 'spec-kit-generated');

        const zip = names.find((n) => n?.endsWith('.zip'))!;
        await gen.locator(`a.art-card[data-artifact="${zip}"]`).click();
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          gen.getByRole('button', { name: `Download ${zip}` }).click(),
        ]);
        const bytes = await readFile((await download.path())!);
        t.equal(bytes.subarray(0, 2).toString('latin1'), 'PK', 'the zip downloads');

        await gen.getByRole('button', { name: /^Validate this kit/ }).click();
        await page.waitForURL(/validation=/);
        const valId = new URL(page.url().replace('#/spec-kit', 'spec-kit')).searchParams.get('validation')!;
        await until(
          async () => (await stack.client.runs.get(valId)).run.status === 'success',
          30_000,
          'validate run',
        );
        const val = page.getByRole('region', { name: 'Validate', exact: true });
        await val.locator(`.spec-result[data-run="${valId}"] .badge[data-status="success"]`).waitFor();
        await val.locator('a.art-card').first().waitFor();
        await val.locator('a.art-card[data-artifact="spec-kit-report.md"]').click();
        await val.locator('[data-viewer="markdown"]').waitFor();
        t.match(page.url(), /#\/spec-kit\?/, 'viewing a file keeps the panel open');
        t.pass('the validation run and its report show in the panel');
        await c.shot(page, 'spec-kit-validated');
      },
    );

    await t.test('dark colour scheme follows the system setting', async (t) => {
      const dark = await c.signedIn(stack.adminToken, 'dark');
      const bg = await dark.evaluate('getComputedStyle(document.body).backgroundColor');
      t.equal(bg, 'rgb(15, 20, 27)', 'dark background');
      await dark.goto(`${stack.apiUrl}/#/runs/${run.id}/artifacts`);
      await openArtifact(dark, 'change.diff');
      await c.shot(dark, 'dark-diff');
      await dark.context().close();
    });
  },
);
