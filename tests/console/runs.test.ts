import { readFile } from 'node:fs/promises';
import t from 'tap';
import { startConsole, until } from './helpers/console.js';
import { streamFaults } from './helpers/faults.js';

const LINES = 200;

t.test(
  'console: sign in, runboard, start from the form, live log across a dropped socket, cancel, history',
  async (t) => {
    const c = await startConsole(t);
    const { stack } = c;
    await stack.client.templates.create({
      name: 'emit_lines',
      description: 'Prints numbered lines slowly',
      params_schema: {
        type: 'object',
        properties: {
          service: { type: 'string', title: 'Service', enum: ['billing', 'search'], default: 'billing' },
          count: { type: 'integer', title: 'Lines', minimum: 1, maximum: 10000, default: 5 },
          delay: { type: 'number', title: 'Delay (s)', default: 0.01 },
        },
        required: ['service', 'count'],
        additionalProperties: false,
      },
      steps: [
        {
          name: 'emit',
          kind: 'shell',
          script:
            'for i in $(seq 1 "$OCR_PARAM_COUNT"); do echo "line-$i of $OCR_PARAM_SERVICE"; sleep "$OCR_PARAM_DELAY"; done',
        },
      ],
    });
    await stack.client.templates.create({
      name: 'sleeper',
      steps: [{ name: 'nap', kind: 'shell', script: 'echo "going to sleep"; sleep 60' }],
    });
    const operator = await stack.tokenFor('operator');
    const viewer = await stack.tokenFor('viewer');

    await t.test(
      'sign-in refuses a bad token, then shows who is signed in and hides controls from a viewer',
      async (t) => {
        const page = await c.open();
        await page.getByLabel('API token').fill('ocr_not_a_token');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
        await c.shot(page, 'sign-in-refused');
        await page.getByLabel('API token').fill(viewer.token);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { name: 'Runboard' }).waitFor();
        t.equal(await page.locator('.role').textContent(), 'viewer', 'role shown');
        t.equal(
          await page.getByRole('link', { name: 'Start a run' }).count(),
          0,
          'a viewer gets no "Start a run"',
        );
        await page.reload();
        await page.getByRole('heading', { name: 'Runboard' }).waitFor();
        t.pass('the token survives a reload (sessionStorage)');
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByLabel('API token').waitFor();

        // A token revoked mid-session sends the tab back to the sign-in screen at its next request.
        const doomed = await stack.client.tokens.create({ name: 'doomed', role: 'viewer' });
        await page.getByLabel('API token').fill(doomed.token);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { name: 'Runboard' }).waitFor();
        await stack.client.tokens.revoke(doomed.id);
        await page.getByRole('link', { name: 'Workers' }).click();
        await page.getByLabel('API token').waitFor();
        // Only the tab's id (the outbox's, see tabId) may stay: it is no secret and outlives a sign-in.
        t.same(
          await page.evaluate('Object.keys(sessionStorage).filter((k) => k !== "ocr.tab")'),
          [],
          'the revoked token is forgotten',
        );
        await page.context().close();
      },
    );

    await t.test(
      'a saved token is kept while the API cannot be reached at start (retried until it answers), forgotten when the API refuses it',
      async (t) => {
        const page = await c.signedIn(viewer.token);
        const savedToken = () => page.evaluate('sessionStorage.getItem("ocr.token")');
        // The tab is reloaded while the API cannot be reached: whoami fails on the network (what fetch
        // reports offline), then a proxy in front of the API answers 502, then the API answers.
        let gate: 'network' | 'proxy' | 'open' = 'network';
        const failed = { network: 0, proxy: 0 };
        await page.route(/\/v1\/whoami$/, (route) => {
          if (gate === 'network') {
            failed.network++;
            return route.abort('internetdisconnected');
          }
          if (gate === 'proxy') {
            failed.proxy++;
            return route.fulfill({ status: 502, contentType: 'text/plain', body: 'Bad Gateway' });
          }
          return route.fallback();
        });
        await page.reload();
        const unreachable = page
          .getByRole('alert')
          .filter({ hasText: 'Cannot reach the control room, retrying' });
        await unreachable.waitFor();
        await until(async () => failed.network >= 2, 15_000, 'a second check, on its own');
        t.equal(await savedToken(), viewer.token, 'the token is kept while the network is down');
        t.equal(await page.getByLabel('API token').count(), 0, 'no sign-in screen');
        gate = 'proxy';
        await page.getByRole('button', { name: 'Retry now' }).click();
        await until(async () => failed.proxy >= 1, 15_000, 'the check through the proxy');
        await unreachable.filter({ hasText: 'Bad Gateway' }).waitFor();
        t.equal(await savedToken(), viewer.token, 'and while the API answers 502');
        // The browser coming back online checks again at once (the backoff timer would, a little later).
        gate = 'open';
        await page.context().setOffline(true);
        await page.context().setOffline(false);
        await page.getByRole('heading', { name: 'Runboard' }).waitFor();
        t.equal(await page.locator('.role').textContent(), 'viewer', 'signed in as before, no sign-in asked');
        await page.unroute(/\/v1\/whoami$/);

        // A token revoked while the tab was away: refused (401) at start, so forgotten.
        const refused = await stack.client.tokens.create({ name: 'refused-at-start', role: 'viewer' });
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByLabel('API token').fill(refused.token);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { name: 'Runboard' }).waitFor();
        await stack.client.tokens.revoke(refused.id);
        await page.reload();
        await page.getByLabel('API token').waitFor();
        t.equal(await savedToken(), null, 'the refused token is forgotten');
        await page.context().close();
      },
    );

    await t.test(
      'a run started from the generated form streams live and survives a dropped WebSocket without gap or duplicate',
      async (t) => {
        const page = await c.open();
        const faults = await streamFaults(page);
        await page.getByLabel('API token').fill(operator.token);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.locator('[data-conn="open"]').waitFor();

        await page.getByRole('link', { name: 'Templates', exact: true }).click();
        await page.getByRole('link', { name: 'Run emit_lines' }).click();
        // The form is generated from the params schema: an enum select, an integer and a number input.
        await page.getByRole('combobox', { name: /^Service/ }).selectOption('search');
        await page.getByRole('spinbutton', { name: /^Lines/ }).fill(String(LINES));
        await page.getByRole('spinbutton', { name: /^Delay/ }).fill('0.02');
        await c.shot(page, 'run-form');
        await page.getByRole('button', { name: 'Start run' }).click();
        await page.waitForURL(/#\/runs\/[0-9a-f-]{36}\/logs/);
        const runId = /runs\/([0-9a-f-]{36})/.exec(page.url())![1]!;

        const log = page.getByRole('log', { name: 'Run log' });
        await log.getByText('line-3 of search').waitFor();
        t.pass('log lines arrive live while the run is running');
        t.equal(
          (await stack.client.runs.get(runId)).run.status,
          'running',
          'the run was still running when its lines showed',
        );

        await faults.drop(true);
        await page.locator('[data-conn="connecting"]').waitFor();
        await c.shot(page, 'log-reconnecting');
        await new Promise((r) => setTimeout(r, 1200));
        faults.restore();
        await page.locator('[data-conn="open"]').waitFor({ timeout: 20_000 });
        t.ok(faults.connections() >= 2, 'the console reconnected by itself');

        await until(
          async () => (await stack.client.runs.get(runId)).run.status === 'success',
          30_000,
          'run success',
        );
        const { events, last_seq } = await stack.client.runs.events(runId, { limit: 5000 });
        await until(
          async () =>
            (await page.getByTestId('line-count').getAttribute('data-last-seq')) === String(last_seq),
          15_000,
          'log caught up',
        );
        t.equal(
          await page.getByTestId('line-count').textContent(),
          `${events.length} lines`,
          'as many lines as the API has',
        );
        const rendered = await log.locator('.ll').count();
        t.ok(
          rendered > 0 && rendered < events.length,
          `virtualised: ${rendered} of ${events.length} rows in the DOM`,
        );
        await page.locator('.badge[data-status="success"]').first().waitFor();

        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: 'Export text' }).click(),
        ]);
        const text = await readFile((await download.path())!, 'utf8');
        const rows = text.trimEnd().split('\n');
        t.same(
          rows.map((r) => Number(r.split(' ')[0])),
          events.map((e) => e.seq),
          "exported seqs are exactly the API's: no gap, no duplicate",
        );
        const numbered = rows
          .map((r) => /line-(\d+) of search/.exec(r)?.[1])
          .filter(Boolean)
          .map(Number);
        t.same(
          numbered,
          Array.from({ length: LINES }, (_, i) => i + 1),
          `lines 1..${LINES}, each once, in order`,
        );

        // Search highlights; the level filter hides info lines.
        await page.getByPlaceholder('Search…').fill('line-7');
        await page.getByTestId('match-count').filter({ hasText: '11 matches' }).waitFor();
        // The tail is in view; "next match" scrolls the first match into view, highlighted.
        await page.getByRole('button', { name: 'Next match' }).click();
        await log.locator('.ll-current mark').filter({ hasText: 'line-7' }).waitFor();
        t.equal(
          await log.locator('.ll-current').getAttribute('data-seq'),
          String(events.find((e) => e.message === 'line-7 of search')!.seq),
          'jumped to the first match',
        );
        await page.getByRole('button', { name: 'Next match' }).click();
        await log.locator('.ll-current').filter({ hasText: 'line-70 of search' }).waitFor();
        t.ok((await log.locator('mark').count()) >= 10, 'line-70…79 in view, each highlighted');
        await c.shot(page, 'log-search');
        await page.getByLabel('info').uncheck();
        t.match(
          await page.getByTestId('line-count').textContent(),
          /^\d+ of \d+ lines$/,
          'level filter narrows the lines',
        );
        await page.context().close();
      },
    );

    await t.test(
      'a lane card follows a run; cancel through the dialog; an action taken offline is sent on reconnect',
      async (t) => {
        const page = await c.open();
        const faults = await streamFaults(page);
        await page.getByLabel('API token').fill(operator.token);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.locator('[data-conn="open"]').waitFor();
        const laneA = page.locator('article[data-lane="A"]');
        await laneA.waitFor();

        const { run } = await stack.client.runs.create({ template: 'sleeper' });
        await laneA.locator('[data-fig="running"]').filter({ hasText: /^1/ }).waitFor();
        await laneA.locator(`[data-run="${run.id}"]`).getByText('nap').waitFor();
        t.equal(await laneA.getAttribute('data-state'), 'busy', 'the card turns busy');
        await laneA
          .locator(`[data-run="${run.id}"] .ar-last`)
          .filter({ hasText: 'going to sleep' })
          .waitFor();
        // Three queued runs on a lane nobody serves, for a fuller board.
        await stack.client.runs.createBatch([0, 1, 2].map(() => ({ template: 'sleeper', lane: 'B' })));
        await page.locator('article[data-lane="B"] [data-fig="depth"]').filter({ hasText: '3' }).waitFor();
        t.equal(
          await page.locator('article[data-lane="B"]').getAttribute('data-state'),
          'stalled',
          'a lane with a queue and no workers is stalled',
        );
        await stack.client.runs.create({ template: 'sleeper', lane: 'C', delay_s: 3600 });
        await page
          .locator('article[data-lane="C"] [data-fig="scheduled"]')
          .filter({ hasText: '1' })
          .waitFor();
        t.pass('a delayed run counts as scheduled');
        await c.shot(page, 'runboard', { x: 0, y: 0, width: 1360, height: 380 });

        await laneA.locator(`[data-run="${run.id}"] a.ar-name`).click();
        await page.getByRole('button', { name: 'Cancel', exact: true }).click();
        const dialog = page.getByRole('dialog', { name: 'Cancel this run?' });
        await dialog.waitFor();
        await c.shot(page, 'cancel-dialog');
        await dialog.getByRole('button', { name: 'Cancel run' }).click();
        await page.locator('.page-head .badge[data-status="cancelled"]').waitFor({ timeout: 20_000 });
        t.equal((await stack.client.runs.get(run.id)).run.status, 'cancelled', 'the API has it cancelled');
        await page.getByRole('link', { name: 'Timeline' }).click();
        await page.locator('.ms[data-type="cancel.confirmed"]').waitFor();
        t.pass('the timeline shows the cancel stages');

        await page.getByRole('link', { name: 'Runboard' }).click();
        await laneA.locator('[data-fig="running"]').filter({ hasText: /^0/ }).waitFor();
        await laneA.locator(`[data-last="${run.id}"] .badge[data-status="cancelled"]`).waitFor();
        t.pass('the lane card shows the cancelled run as last completed');

        // Retry makes a new run and opens it.
        await laneA.locator(`[data-last="${run.id}"]`).click();
        await page.getByRole('button', { name: 'Retry' }).click();
        await page.waitForURL((url) => /#\/runs\/[0-9a-f-]{36}/.test(url.hash) && !url.hash.includes(run.id));
        const retriedId = /runs\/([0-9a-f-]{36})/.exec(page.url())![1]!;
        t.equal((await stack.client.runs.get(retriedId)).run.retry_of, run.id, 'retry opened the new run');
        await stack.client.runs.cancel(retriedId);

        // Offline: the cancel is queued (shown at once, optimistically) and sent when the socket is back.
        const { runs: queued } = await stack.client.runs.list({ lane: 'B', status: 'queued' });
        const target = queued[0]!;
        await page.goto(`${stack.apiUrl}/#/runs/${target.id}`);
        await page.locator('[data-conn="open"]').waitFor();
        await page.getByRole('note', { name: "Why isn't this running" }).waitFor();
        // Keyboard: Enter opens the dialog, Escape closes it and nothing happens.
        await page.getByRole('button', { name: 'Cancel', exact: true }).focus();
        await page.keyboard.press('Enter');
        await page.getByRole('dialog', { name: 'Cancel this run?' }).waitFor();
        t.equal(
          await page.evaluate('document.activeElement.textContent'),
          'Keep running',
          'the safe choice has the focus',
        );
        await page.keyboard.press('Escape');
        await page.getByRole('dialog').waitFor({ state: 'hidden' });
        t.equal((await stack.client.runs.get(target.id)).run.status, 'queued', 'Escape cancels nothing');

        await faults.drop(true);
        await page.locator('[data-conn="connecting"]').waitFor();
        await page.getByRole('button', { name: 'Cancel', exact: true }).click();
        await page.getByRole('dialog').getByRole('button', { name: 'Cancel run' }).click();
        await page.locator('.conn-queued').filter({ hasText: '1 queued' }).waitFor();
        await c.shot(page, 'cancel-queued-offline');
        t.equal(
          (await stack.client.runs.get(target.id)).run.status,
          'queued',
          'nothing was sent while offline',
        );
        faults.restore();
        await until(
          async () => (await stack.client.runs.get(target.id)).run.status === 'cancelled',
          25_000,
          'queued cancel sent',
        );
        await page.locator('.conn-queued').waitFor({ state: 'detached' });
        t.pass('the queued cancel went out on reconnect');
        await page.context().close();
      },
    );

    await t.test('history filters by status, template and search', async (t) => {
      const page = await c.signedIn(operator.token);
      await page.getByRole('link', { name: 'Runs', exact: true }).click();
      const rows = page.locator('table[aria-label="Runs"] tbody tr');
      await rows.first().waitFor();
      const all = await rows.count();
      t.ok(all >= 5, `history lists every run (${all})`);
      await page.getByLabel('Status').selectOption('cancelled');
      await until(
        async () =>
          (await rows.count()) === 3 &&
          (await page.locator('table[aria-label="Runs"] .badge[data-status="cancelled"]').count()) === 3,
        10_000,
        'status filter',
      );
      t.pass('status filter: the three cancelled runs');
      await page.getByLabel('Status').selectOption('');
      await page.getByLabel('Template').selectOption('emit_lines');
      await until(async () => (await rows.count()) === 1, 10_000, 'template filter');
      const emitId = await rows.first().getAttribute('data-run');
      await page.getByLabel('Template').selectOption('');
      await page.getByLabel('Search').fill(emitId!);
      await page.getByRole('button', { name: 'Apply' }).click();
      await until(
        async () => (await rows.count()) === 1 && (await rows.first().getAttribute('data-run')) === emitId,
        10_000,
        'search by id',
      );
      t.pass('search by run id');
      await page.getByLabel('Search').fill('');
      await page.getByLabel('Lane').selectOption('B');
      await page.getByLabel('Status').selectOption('queued');
      await until(async () => (await rows.count()) === 2, 10_000, 'lane + status filter');
      await c.shot(page, 'history-filtered');
      t.pass('lane and status together');
      await page.context().close();
    });
  },
);
