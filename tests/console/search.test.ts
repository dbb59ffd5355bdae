// The run history's filters in Chromium: the created date range (seconds precision, in the browser's own
// time zone), the params key/value filter and free-text search, each narrowing the table to the right runs.
import t from 'tap';
import { startConsole, until } from './helpers/console.js';

/** A table row as the page sees it (the tests' tsconfig has no DOM lib). */
type Attributed = { getAttribute(name: string): string | null };
t.test('history: date range, params and text filters narrow the table to the right runs', async (t) => {
  const c = await startConsole(t, { worker: false, s3: false });
  const { stack } = c;
  await stack.client.templates.create({
    name: 'deploy',
    params_schema: { type: 'object', properties: { env: { type: 'string' }, build: { type: 'integer' } } },
    steps: [{ name: 'noop', kind: 'noop' }],
  });
  // Three runs, each in a later wall-clock second than the one before (the inputs have seconds precision).
  const runs = [];
  for (const [env, build] of [
    ['dev', 1],
    ['prod', 2],
    ['prod', 3],
  ] as const) {
    const { run } = await stack.client.runs.create({ template: 'deploy', params: { env, build } });
    runs.push(run);
    const second = Math.floor(Date.parse(run.created_at) / 1000);
    while (Math.floor(Date.now() / 1000) <= second) await new Promise((r) => setImmediate(r));
  }
  const page = await c.signedIn();
  await page.getByRole('link', { name: 'Runs' }).click();
  const rows = page.locator('table[aria-label="Runs"] tbody tr');
  // One atomic read of the table: per-row locators (rows.all() then getAttribute) wait for a row that a
  // re-render has just removed, past the deadline below.
  const shown = () =>
    rows.evaluateAll((trs) => (trs as unknown as Attributed[]).map((tr) => tr.getAttribute('data-run')));
  const settle = (ids: string[]) =>
    until(
      async () => {
        const got = await shown();
        return JSON.stringify(got) === JSON.stringify(ids) && got;
      },
      15_000,
      `rows ${ids.join(', ')}`,
    );
  const [a, b, d] = runs.map((r) => r.id);
  t.same(await settle([d!, b!, a!]), [d, b, a], 'all three, newest first');

  // The browser's local time for a run's creation second, as a datetime-local input takes it.
  const local = (iso: string) =>
    page.evaluate((at) => {
      const date = new Date(Math.floor(Date.parse(at) / 1000) * 1000);
      const pad = (n: number) => String(n).padStart(2, '0');
      return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
    }, iso);
  const form = page.getByRole('form', { name: 'Filter runs' });
  await form.getByLabel('Created from').fill(await local(runs[1]!.created_at));
  await form.getByRole('button', { name: 'Apply' }).click();
  t.same(await settle([d!, b!]), [d, b], 'from the second run on');
  await form.getByLabel('to', { exact: true }).fill(await local(runs[2]!.created_at));
  await form.getByRole('button', { name: 'Apply' }).click();
  t.same(await settle([b!]), [b], 'before the third run (exclusive)');
  await form.getByLabel('Created from').fill('');
  await form.getByRole('button', { name: 'Apply' }).click();
  t.same(await settle([b!, a!]), [b, a], 'only an upper bound');
  await form.getByLabel('to', { exact: true }).fill('');

  await form.getByLabel('Params').fill('env=prod, build=3');
  await form.getByRole('button', { name: 'Apply' }).click();
  t.same(await settle([d!]), [d], 'params: both keys, the number typed');
  await form.getByLabel('Params').fill('env=prod');
  await form.getByRole('button', { name: 'Apply' }).click();
  t.same(await settle([d!, b!]), [d, b], 'params: one key');
  await form.getByLabel('Params').fill('');
  await form.getByLabel('Search').fill('"dev"');
  await form.getByRole('button', { name: 'Apply' }).click();
  t.same(await settle([a!]), [a], 'free text');
  await c.shot(page, 'runs-search');
});
