/**
 * `npm run screenshots:console`: the README's console screenshots, taken from the real console in headless
 * Chromium. A scratch PostgreSQL, a real API serving the built console and a real worker (the Chromium
 * tests' harness, tests/console/helpers), a few seeded runs, then the Runboard, Artifacts and Compare
 * screens written to docs/images (or the directory given as the first argument).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findStaleRuns, sweepStaleRuns } from '@ocr/db';
import { startScratchPostgres } from '@ocr/testkit/postgres';
import type { TestLike } from '@ocr/testkit';

const TEMPLATE_DB = 'ocr_screenshots_template';
const OUT = resolve(process.argv[2] ?? join(import.meta.dirname, '../docs/images'));

/** The render step's plan.diff: a unified diff of the manifest, with the run's replicas. */
const PLAN = [
  'cat > plan.diff <<EOF',
  '--- a/k8s/billing.yaml',
  '+++ b/k8s/billing.yaml',
  '@@ -3,5 +3,5 @@',
  ' metadata:',
  '   name: billing',
  ' spec:',
  '-  replicas: 2',
  '+  replicas: $OCR_PARAM_REPLICAS',
  '   image: registry.example/billing:1.42.0',
  'EOF',
].join('\n');

async function seedAndShoot(t: TestLike): Promise<string[]> {
  // Imported after the scratch server's address is in the environment: the harness reads it on use.
  const { startConsole, until } = await import('../tests/console/helpers/console.js');
  const { startTestWorker } = await import('@ocr/testkit');
  const c = await startConsole(t, { worker: false, s3: false });
  const { stack } = c;
  await startTestWorker(t, stack);
  await stack.client.templates.create({
    name: 'deploy',
    description: 'Render the manifests, check them, report',
    default_lane: 'A',
    params_schema: {
      type: 'object',
      properties: {
        service: { type: 'string' },
        replicas: { type: 'integer', minimum: 1 },
        region: { type: 'string' },
      },
    },
    steps: [
      {
        name: 'render',
        kind: 'shell',
        script: [
          'echo "rendering $OCR_PARAM_SERVICE for $OCR_PARAM_REGION"',
          'printf "service: %s\\nregion: %s\\nreplicas: %s\\n" "$OCR_PARAM_SERVICE" "$OCR_PARAM_REGION" "$OCR_PARAM_REPLICAS" > config.yaml',
          PLAN,
          'printf "# Deploy report\\n\\n%s to %s replicas in %s.\\n" "$OCR_PARAM_SERVICE" "$OCR_PARAM_REPLICAS" "$OCR_PARAM_REGION" > report.md',
          'echo "wrote 3 files"',
        ].join('\n'),
        artifacts: [
          { path: 'config.yaml', kind: 'text' },
          { path: 'plan.diff', kind: 'diff' },
          { path: 'report.md', kind: 'markdown' },
        ],
      },
      {
        name: 'check',
        kind: 'shell',
        script:
          'echo "quota check: $OCR_PARAM_REPLICAS replicas"; if [ "$OCR_PARAM_REPLICAS" -gt 6 ]; then echo "over the region quota (6)" >&2; exit 3; fi; echo "within quota"',
      },
    ],
  });
  await stack.client.templates.create({
    name: 'etl',
    default_lane: 'batch',
    retry: { max_attempts: 1, backoff: { initial_s: 0, factor: 1, max_s: 0 } },
    steps: [{ name: 'load', kind: 'noop' }],
  });
  const settle = (id: string) =>
    until(
      async () => {
        const { run } = await stack.client.runs.get(id);
        return !['queued', 'running'].includes(run.status) && run.status;
      },
      60_000,
      `run ${id}`,
    );
  const deploy = async (replicas: number, region = 'fra1') => {
    const { run } = await stack.client.runs.create({
      template: 'deploy',
      params: { service: 'billing', replicas, region },
    });
    await settle(run.id);
    return run.id;
  };
  const first = await deploy(3);
  await deploy(4, 'ams3');
  const last = await deploy(9);

  // Lane batch: four runs whose worker is lost; the sweeper requeues them, a second worker ends them.
  const { client: worker } = await stack.tokenFor('worker');
  const etl: string[] = [];
  for (let i = 0; i < 4; i++) etl.push((await stack.client.runs.create({ template: 'etl' })).run.id);
  await worker.worker.claim({ worker_id: 'node-7', lanes: ['batch'], limit: 4 });
  const stale = (await findStaleRuns(stack.db.db, { timeoutS: 0, limit: 100 })).filter((s) =>
    etl.includes(s.id),
  );
  await sweepStaleRuns(stack.db.db, stale);
  const again = await worker.worker.claim({ worker_id: 'node-8', lanes: ['batch'], limit: 4 });
  for (const [i, r] of again.runs.entries())
    await worker.worker.complete(
      r.run.id,
      r.lease_token,
      i < 3
        ? { status: 'success' }
        : { status: 'error', error: { code: 'step_failed', message: 'load failed' } },
    );

  // Lane A busy with a long run (cut short after the shots); lane reports has runs and nobody serving it.
  await stack.client.templates.create({
    name: 'sleeper',
    default_lane: 'A',
    steps: [{ name: 'nap', kind: 'shell', script: 'echo "going to sleep"; sleep 60' }],
  });
  await stack.client.templates.create({
    name: 'weekly-report',
    default_lane: 'reports',
    steps: [{ name: 'render', kind: 'noop' }],
  });
  const sleeper = (await stack.client.runs.create({ template: 'sleeper' })).run.id;
  for (let i = 0; i < 2; i++) await stack.client.runs.create({ template: 'weekly-report' });
  await until(
    async () => (await stack.client.runs.events(sleeper)).events.some((e) => e.message === 'going to sleep'),
    30_000,
    'the sleeper to start',
  );
  t.teardown(() => stack.client.runs.cancel(sleeper).catch(() => undefined));

  mkdirSync(OUT, { recursive: true });
  const shots: string[] = [];
  const save = async (page: Awaited<ReturnType<typeof c.signedIn>>, name: string) => {
    const path = join(OUT, `${name}.png`);
    await page.screenshot({ path });
    shots.push(path);
  };

  const page = await c.signedIn();
  await page.locator('article[aria-labelledby="lane-batch"] [data-fig="recovery-rate"]').waitFor();
  await page.locator(`article[aria-labelledby="lane-A"] li[data-run="${sleeper}"]`).waitFor();
  // The cards only: the rest of the screen is empty.
  const cards = (await page.locator('.lanes').boundingBox())!;
  await page.screenshot({
    path: join(OUT, 'console-runboard.png'),
    clip: { x: 0, y: 0, width: 1360, height: Math.ceil(cards.y + cards.height + 16) },
  });
  shots.push(join(OUT, 'console-runboard.png'));

  await page.getByRole('link', { name: 'Artifacts' }).click();
  const form = page.getByRole('form', { name: 'Filter artifacts' });
  await form.getByLabel('Template').selectOption('deploy');
  await form.getByLabel('Name').fill('plan.diff');
  await form.getByRole('button', { name: 'Apply' }).click();
  const rows = page.locator('table[aria-label="Artifacts"] tbody tr');
  await until(async () => (await rows.count()) === 3, 15_000, 'three plan.diff rows');
  await rows.first().getByRole('button', { name: 'plan.diff' }).click();
  await page.locator('[data-viewer="diff"]').waitFor();
  await save(page, 'console-artifacts');

  await page.goto(`${stack.apiUrl}/#/compare?a=${first}&b=${last}`);
  await page.locator('[data-output="check"] [data-viewer="diff"]').waitFor();
  await page.getByRole('button', { name: 'Diff config.yaml' }).click();
  await page.locator('tr.cmp-detail [data-viewer="diff"]').waitFor();
  await save(page, 'console-compare');
  return shots;
}

async function main(): Promise<void> {
  const postgres = await startScratchPostgres(TEMPLATE_DB, process.env.DATABASE_URL);
  process.env.OCR_TEST_SERVER_URL = postgres.serverUrl;
  process.env.OCR_TEST_TEMPLATE_DB = TEMPLATE_DB;
  const teardowns: (() => unknown)[] = [];
  try {
    const shots = await seedAndShoot({ teardown: (fn) => teardowns.push(fn) });
    for (const shot of shots) process.stdout.write(`wrote ${shot}\n`);
  } finally {
    for (const fn of teardowns.reverse()) await fn();
    await postgres.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
