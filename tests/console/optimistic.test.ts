import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { BrowserContext, Page } from 'playwright-core';
import { deleteFinishedRuns, deleteRunEventsBatch } from '@ocr/db';
import { startConsole, until } from './helpers/console.js';

/**
 * Hold the page's requests matching `url` in the browser until `release()`, then send them to the real API:
 * the window in which the console shows an action that the API has not seen yet.
 */
async function hold(page: Page, url: RegExp, method = 'POST') {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  const seen = new Promise<void>((r) => (arrived = r));
  // Released handlers pass later requests through (the next matching route, then the network).
  await page.route(url, async (route) => {
    if (route.request().method() !== method) return route.fallback();
    arrived();
    await released;
    return route.fallback();
  });
  return { seen, release };
}

const toast = (page: Page, text: string | RegExp) => page.locator('.toast').filter({ hasText: text });

/** A new tab of `context`, signed in with `token`, on the page of run `runId`. */
async function signedInTab(
  context: BrowserContext,
  apiUrl: string,
  token: string,
  runId: string,
): Promise<Page> {
  const tab = await context.newPage();
  await tab.goto(`${apiUrl}/`);
  await tab.getByLabel('API token').fill(token);
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await tab.locator('[data-conn="open"]').waitFor();
  await tab.goto(`${apiUrl}/#/runs/${runId}`);
  await tab.locator('.meta code').filter({ hasText: runId }).waitFor();
  return tab;
}

t.test(
  'console: optimistic cancel, retry and start, confirmed or rolled back; the outbox survives a reload',
  async (t) => {
    const c = await startConsole(t);
    const { stack } = c;
    const gates = mkdtempSync(join(tmpdir(), 'ocr-optimistic-'));
    t.teardown(() => rmSync(gates, { recursive: true, force: true }));
    await stack.client.templates.create({
      name: 'gated',
      params_schema: {
        type: 'object',
        properties: { gate: { type: 'string' } },
        required: ['gate'],
        additionalProperties: false,
      },
      // Runs until the test creates its gate file: the test decides when it finishes, no timing involved.
      steps: [
        {
          name: 'wait',
          kind: 'shell',
          script: 'echo waiting; while [ ! -f "$OCR_PARAM_GATE" ]; do sleep 0.05; done; echo passed',
        },
      ],
    });
    await stack.client.templates.create({
      name: 'parked',
      default_lane: 'B',
      params_schema: {
        type: 'object',
        properties: { tag: { type: 'string', title: 'Tag', default: 'none' } },
        additionalProperties: false,
      },
      steps: [{ name: 'nap', kind: 'shell', script: 'sleep 60' }],
    });
    const operator = await stack.tokenFor('operator');
    const page = await c.signedIn(operator.token);
    const pending = page.getByRole('list', { name: 'Pending actions' });
    const runPage = async (id: string) => {
      await page.goto(`${stack.apiUrl}/#/runs/${id}`);
      await page.locator(`.meta code`).filter({ hasText: id }).waitFor();
    };
    const cancelThroughDialog = async () => {
      await page.getByRole('button', { name: 'Cancel', exact: true }).click();
      await page
        .getByRole('dialog', { name: 'Cancel this run?' })
        .getByRole('button', { name: 'Cancel run' })
        .click();
    };

    await t.test('cancel: shown at once, confirmed by the API', async (t) => {
      const { run } = await stack.client.runs.create({ template: 'parked' });
      await runPage(run.id);
      await page.locator('.page-head .badge[data-status="queued"]').waitFor();
      const held = await hold(page, new RegExp(`/v1/runs/${run.id}/cancel$`));
      await cancelThroughDialog();
      await held.seen;
      await page.locator('.page-head .badge[data-status="cancelling"]').waitFor();
      await page.getByRole('button', { name: 'Cancelling…' }).waitFor();
      t.ok(
        await page.getByRole('button', { name: 'Cancelling…' }).isDisabled(),
        'the cancel button is disabled',
      );
      await pending.locator('li[data-kind="cancel"][data-state="sending"]').waitFor();
      t.equal(
        (await stack.client.runs.get(run.id)).run.status,
        'queued',
        'optimistic: the API has not seen it yet',
      );
      held.release();
      await page.locator('.page-head .badge[data-status="cancelled"]').waitFor();
      await pending.waitFor({ state: 'detached' });
      await toast(page, 'Cancel done').waitFor();
      t.equal(
        (await stack.client.runs.get(run.id)).run.status,
        'cancelled',
        'confirmed: the API cancelled it',
      );
    });

    await t.test('cancel rolled back: the run finished before the cancel reached the API', async (t) => {
      const gate = join(gates, 'finish');
      const { run } = await stack.client.runs.create({ template: 'gated', params: { gate } });
      await until(
        async () => (await stack.client.runs.get(run.id)).run.status === 'running',
        30_000,
        'running',
      );
      await runPage(run.id);
      await page.locator('.page-head .badge[data-status="running"]').waitFor();
      const held = await hold(page, new RegExp(`/v1/runs/${run.id}/cancel$`));
      await cancelThroughDialog();
      await held.seen;
      await page.locator('.page-head .badge[data-status="cancelling"]').waitFor();
      t.pass('shown as cancelling at once');
      writeFileSync(gate, '');
      await until(
        async () => (await stack.client.runs.get(run.id)).run.status === 'success',
        30_000,
        'success',
      );
      held.release();
      // The API's own message, and the run as it really is: finished, no cancel pending, nothing to cancel.
      await toast(page, /Cancel failed: run is already success/).waitFor();
      await page.locator('.page-head .badge[data-status="success"]').waitFor();
      await pending.waitFor({ state: 'detached' });
      t.equal(await page.getByRole('button', { name: /^Cancel/ }).count(), 0, 'no cancel control left');
      t.equal((await stack.client.runs.get(run.id)).run.cancel_requested, false, 'the API changed nothing');
    });

    await t.test('retry: shown at once, confirmed by the API (the new run opens)', async (t) => {
      const { run } = await stack.client.runs.create({ template: 'parked' });
      await stack.client.runs.cancel(run.id);
      await runPage(run.id);
      const held = await hold(page, new RegExp(`/v1/runs/${run.id}/retry$`));
      await page.getByRole('button', { name: 'Retry' }).click();
      await held.seen;
      await page.getByRole('button', { name: 'Retrying…' }).waitFor();
      await pending.locator('li[data-kind="retry"][data-state="sending"]').waitFor();
      const retries = async () =>
        (await stack.client.runs.list({ template: 'parked', limit: 200 })).runs.filter(
          (r) => r.retry_of === run.id,
        );
      t.equal((await retries()).length, 0, 'optimistic: no retry run exists yet');
      held.release();
      await page.waitForURL((url) => /#\/runs\/[0-9a-f-]{36}/.test(url.hash) && !url.hash.includes(run.id));
      const opened = /runs\/([0-9a-f-]{36})/.exec(page.url())![1]!;
      const made = await retries();
      t.same(
        made.map((r) => r.id),
        [opened],
        'confirmed: one retry run, and it is the one opened',
      );
      await pending.waitFor({ state: 'detached' });
      await stack.client.runs.cancel(opened);
    });

    await t.test('retry rolled back: the run was purged by retention meanwhile', async (t) => {
      const { run } = await stack.client.runs.create({ template: 'parked' });
      await stack.client.runs.cancel(run.id);
      await runPage(run.id);
      const held = await hold(page, new RegExp(`/v1/runs/${run.id}/retry$`));
      await page.getByRole('button', { name: 'Retry' }).click();
      await held.seen;
      await page.getByRole('button', { name: 'Retrying…' }).waitFor();
      // What the sweeper's retention pass does to an expired finished run.
      await deleteRunEventsBatch(stack.db.db, { runIds: [run.id], limit: 10_000 });
      t.same(await deleteFinishedRuns(stack.db.db, [run.id]), [run.id], 'purged');
      held.release();
      await toast(page, /Retry failed: run not found/).waitFor();
      await pending.waitFor({ state: 'detached' });
      await page.getByRole('alert').filter({ hasText: 'run not found' }).waitFor();
      t.pass('rolled back with the API message; the page shows the run is gone');
    });

    await t.test('start: shown at once, confirmed by the API (the run opens)', async (t) => {
      await page.goto(`${stack.apiUrl}/#/templates/parked/run`);
      await page.getByRole('textbox', { name: /^Tag/ }).fill('optimistic-start');
      const held = await hold(page, /\/v1\/runs$/);
      await page.getByRole('button', { name: 'Start run' }).click();
      await held.seen;
      await page.getByRole('button', { name: 'Starting…' }).waitFor();
      await pending
        .locator('li[data-kind="create"][data-state="sending"]')
        .filter({ hasText: 'start parked on lane B' })
        .waitFor();
      const started = async () =>
        (await stack.client.runs.list({ params: JSON.stringify({ tag: 'optimistic-start' }) })).runs;
      t.equal((await started()).length, 0, 'optimistic: the API has no such run yet');
      held.release();
      await page.waitForURL(/#\/runs\/[0-9a-f-]{36}\/logs/);
      const runs = await started();
      t.equal(runs.length, 1, 'confirmed: one run');
      t.ok(page.url().includes(runs[0]!.id), 'and it is the one opened');
      await pending.waitFor({ state: 'detached' });
    });

    await t.test('start rolled back: the template was retired while the form was open', async (t) => {
      await stack.client.templates.create({
        name: 'doomed',
        default_lane: 'B',
        steps: [{ name: 'x', kind: 'shell', script: 'true' }],
      });
      await page.goto(`${stack.apiUrl}/#/templates/doomed/run`);
      const held = await hold(page, /\/v1\/runs$/);
      await page.getByRole('button', { name: 'Start run' }).click();
      await held.seen;
      await page.getByRole('button', { name: 'Starting…' }).waitFor();
      await pending.locator('li[data-kind="create"]').waitFor();
      await stack.client.templates.delete('doomed');
      held.release();
      await page.getByRole('alert').filter({ hasText: 'no template named doomed' }).waitFor();
      await toast(page, /Start failed: .*no template named doomed/).waitFor();
      await pending.waitFor({ state: 'detached' });
      await page.getByRole('button', { name: 'Start run' }).waitFor();
      t.match(page.url(), /templates\/doomed\/run$/, 'still on the form, which is usable again');
    });

    await t.test(
      'offline: cancel, retry and start are queued, survive a reload, and are applied once each when back online',
      async (t) => {
        const { run: toCancel } = await stack.client.runs.create({ template: 'parked' });
        const { run: toRetry } = await stack.client.runs.create({ template: 'parked' });
        const { run: fromOtherTab } = await stack.client.runs.create({ template: 'parked' });
        // A second tab of the same browser and token (same localStorage), on another run.
        const other = await page.context().newPage();
        await other.goto(`${stack.apiUrl}/`);
        await other.getByLabel('API token').fill(operator.token);
        await other.getByRole('button', { name: 'Sign in' }).click();
        await other.locator('[data-conn="open"]').waitFor();
        await other.goto(`${stack.apiUrl}/#/runs/${fromOtherTab.id}`);
        await other.locator('.meta code').filter({ hasText: fromOtherTab.id }).waitFor();
        await stack.client.runs.cancel(toRetry.id);
        // Visit each page online first: offline, the console shows them from its cache.
        await runPage(toRetry.id);
        await page.goto(`${stack.apiUrl}/#/templates/parked/run`);
        await page.getByRole('textbox', { name: /^Tag/ }).waitFor();
        await runPage(toCancel.id);

        await page.context().setOffline(true);
        await cancelThroughDialog();
        await page.getByRole('button', { name: 'Cancel queued' }).waitFor();
        await page.goBack();
        await page.getByRole('textbox', { name: /^Tag/ }).fill('offline-start');
        await page.getByRole('button', { name: 'Start run' }).click();
        await page.getByRole('button', { name: 'Queued: starts when back online' }).waitFor();
        await page.goBack();
        await page.locator('.meta code').filter({ hasText: toRetry.id }).waitFor();
        await page.getByRole('button', { name: 'Retry' }).click();
        await page.getByRole('button', { name: 'Retry queued' }).waitFor();
        await pending.locator('li[data-state="queued"]').nth(2).waitFor();
        t.same(
          await Promise.all((await pending.locator('li').all()).map((li) => li.getAttribute('data-kind'))),
          ['cancel', 'create', 'retry'],
          'three actions queued, in order',
        );
        await page.locator('.conn-queued').filter({ hasText: '3 queued' }).waitFor();
        await c.shot(page, 'outbox-queued-offline');
        // The other tab queues its own action after these: it must not overwrite them in storage.
        await other.getByRole('button', { name: 'Cancel', exact: true }).click();
        await other.getByRole('dialog').getByRole('button', { name: 'Cancel run' }).click();
        await other.getByRole('button', { name: 'Cancel queued' }).waitFor();
        await other.close();
        const stored = String(await page.evaluate('JSON.stringify({ ...localStorage })'));
        t.notOk(stored.includes(operator.token), 'the token is not in localStorage');
        t.equal(
          Object.keys(JSON.parse(stored) as Record<string, string>).filter((k) => k.startsWith('ocr.outbox.'))
            .length,
          4,
          'stored, one entry per action, both tabs',
        );

        // Checked before the reload: a page being torn down by it may still get a request out (seen under
        // load: the queued cancel reached the API mid-reload, offline emulation notwithstanding); that one is
        // an answer lost, replayed below with the same key and applied once.
        t.equal(
          (await stack.client.runs.get(toCancel.id)).run.status,
          'queued',
          'nothing was sent while offline',
        );

        // The reload happens offline: this page's memory is gone; only what is stored is left to send.
        await page.reload().catch(() => undefined);
        // The failed reload commits Chromium's network-error page (after page.reload has already rejected),
        // and that page reloads itself once the network is back (about 1 s later, then with backoff). That
        // reload raced the navigation below: a console could boot, start sending, and be replaced by a
        // second one still booting. Leave the error page, once it is there, while still offline, so exactly
        // one console page loads the stored actions.
        await page.waitForURL(/^chrome-error:/);
        await page.goto('about:blank');

        // Back online, the first retry request reaches the API but its answer is lost on the way back.
        let retryRequests = 0;
        await page.route(new RegExp(`/v1/runs/${toRetry.id}/retry$`), async (route) => {
          retryRequests++;
          if (retryRequests > 1) return route.fallback();
          await route.fetch();
          await route.abort('connectionreset');
        });
        await page.context().setOffline(false);
        await page.goto(`${stack.apiUrl}/#/runs`);
        if (
          await page
            .getByLabel('API token')
            .isVisible()
            .catch(() => false)
        ) {
          await page.getByLabel('API token').fill(operator.token);
          await page.getByRole('button', { name: 'Sign in' }).click();
        }
        // Done when the outbox says so: the console is up and no stored action is left. The pending list
        // being absent alone is no signal (it is also absent while a page is still loading or signing in).
        await page.locator('[data-conn="open"]').waitFor({ timeout: 30_000 });
        await until(
          async () =>
            (await page.evaluate(
              'Object.keys(localStorage).filter((k) => k.startsWith("ocr.outbox.")).length',
            )) === 0,
          30_000,
          'every stored action answered',
        );
        await pending.waitFor({ state: 'detached' });
        t.ok(
          retryRequests >= 2,
          `the retry whose answer was lost was sent again (${retryRequests} requests)`,
        );

        const events = (await stack.client.runs.events(toCancel.id)).events;
        t.equal(events.filter((e) => /cancelled while queued/.test(e.message)).length, 1, 'cancelled once');
        const otherEvents = (await stack.client.runs.events(fromOtherTab.id)).events;
        t.equal(
          otherEvents.filter((e) => /cancelled while queued/.test(e.message)).length,
          1,
          "the other tab's cancel, sent by this tab after the reload, once",
        );
        const parked = (await stack.client.runs.list({ template: 'parked', limit: 200 })).runs;
        t.equal(parked.filter((r) => r.retry_of === toRetry.id).length, 1, 'retried once');
        t.equal(
          parked.filter((r) => (r.params as { tag?: string }).tag === 'offline-start').length,
          1,
          'started once',
        );
        t.equal(await page.evaluate('localStorage.length'), 0, 'the outbox is empty');
      },
    );

    await t.test(
      'two open tabs: an open tab sends its own actions, the other lists them and sends those of a tab closed first',
      async (t) => {
        const stored = (p: Page) =>
          p.evaluate('Object.keys(localStorage).filter((k) => k.startsWith("ocr.outbox.")).length');
        const cancelledWhileQueued = async (id: string) =>
          (await stack.client.runs.events(id)).events.filter((e) => /cancelled while queued/.test(e.message))
            .length;
        const openTab = (runId: string) => signedInTab(page.context(), stack.apiUrl, operator.token, runId);
        const confirmCancel = async (tab: Page) => {
          await tab.getByRole('button', { name: 'Cancel', exact: true }).click();
          await tab.getByRole('dialog').getByRole('button', { name: 'Cancel run' }).click();
        };
        const listed = (p: Page, runId: string, where: 'elsewhere' | 'here') =>
          p
            .getByRole('list', { name: 'Pending actions' })
            .locator(
              `li[data-kind="cancel"]${where === 'elsewhere' ? '[data-elsewhere]' : ':not([data-elsewhere])'}`,
            )
            .filter({ hasText: runId.slice(0, 8) });
        const tabId = (p: Page) => p.evaluate('sessionStorage.getItem("ocr.tab")');
        // Every cancel request this (never reloaded) page sends, by run.
        const sentHere: string[] = [];
        await page.route(/\/v1\/runs\/[0-9a-f-]{36}\/cancel$/, (route) => {
          if (route.request().method() === 'POST') sentHere.push(route.request().url().split('/').at(-2)!);
          return route.fallback();
        });
        await page.goto(`${stack.apiUrl}/#/runs`);
        await page.locator('[data-conn="open"]').waitFor();

        // The other tab queues a cancel offline, then is closed: this tab, never reloaded, must send it.
        const { run: closedTabs } = await stack.client.runs.create({ template: 'parked' });
        const closing = await openTab(closedTabs.id);
        await page.context().setOffline(true);
        await confirmCancel(closing);
        await closing.getByRole('button', { name: 'Cancel queued' }).waitFor();
        await listed(closing, closedTabs.id, 'here').waitFor();
        await listed(page, closedTabs.id, 'elsewhere').waitFor();
        t.pass("the other tab's queued cancel is listed here without a reload, as that tab's");
        await closing.close();
        // Its tab lock is released with it: the action is this tab's now (still offline, so still queued).
        await listed(page, closedTabs.id, 'here').and(page.locator('[data-state="queued"]')).waitFor();
        t.pass('the closed tab is noticed at once, offline');
        await page.context().setOffline(false);
        await until(async () => (await stored(page)) === 0, 30_000, "the closed tab's action answered");
        await pending.waitFor({ state: 'detached' });
        t.equal(await cancelledWhileQueued(closedTabs.id), 1, 'sent by this tab: cancelled once');
        t.same(
          sentHere.filter((id) => id === closedTabs.id),
          [closedTabs.id],
          'one request from this tab',
        );

        // The tab that took it is open but slow (its request held well past the 5 s an earlier version gave
        // an open tab): this tab lists it and never sends it.
        const { run: slow } = await stack.client.runs.create({ template: 'parked' });
        const open = await openTab(slow.id);
        const held = await hold(open, new RegExp(`/v1/runs/${slow.id}/cancel$`));
        await confirmCancel(open);
        await held.seen;
        await listed(page, slow.id, 'elsewhere').waitFor();
        await new Promise((r) => setTimeout(r, 7000));
        t.same(
          sentHere.filter((id) => id === slow.id),
          [],
          'not sent from here while the slow tab is open',
        );
        held.release();
        await until(async () => (await stored(page)) === 0, 30_000, "the slow tab's action answered");
        await pending.waitFor({ state: 'detached' });
        await open.getByRole('list', { name: 'Pending actions' }).waitFor({ state: 'detached' });
        t.equal(await cancelledWhileQueued(slow.id), 1, 'cancelled once');
        t.equal((await stack.client.runs.get(slow.id)).run.status, 'cancelled', 'and it is cancelled');
        t.same(
          sentHere.filter((id) => id === slow.id),
          [],
          'sent by its own tab only',
        );

        // A reload keeps the tab's id (its stored actions stay its own); a tab opened from it inherits its
        // sessionStorage (token and id) and must not pass for it.
        const before = await tabId(open);
        await open.reload();
        await open.locator('[data-conn="open"]').waitFor();
        t.equal(await tabId(open), before, 'a reload keeps the tab id');
        const [copy] = await Promise.all([
          open.waitForEvent('popup'),
          open.evaluate('void window.open(location.href)'),
        ]);
        await copy.locator('[data-conn="open"]').waitFor();
        t.not(await tabId(copy), before, 'a copied tab takes its own id');
        await copy.close();

        // Both tabs open and offline: the open tab's action is left to it, even by a sign-out here.
        const { run: bothTabs } = await stack.client.runs.create({ template: 'parked' });
        await open.goto(`${stack.apiUrl}/#/runs/${bothTabs.id}`);
        await open.locator('.meta code').filter({ hasText: bothTabs.id }).waitFor();
        await page.context().setOffline(true);
        await confirmCancel(open);
        await open.getByRole('button', { name: 'Cancel queued' }).waitFor();
        await listed(page, bothTabs.id, 'elsewhere').waitFor();
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByLabel('API token').waitFor();
        t.equal(await stored(open), 1, "signing out here leaves the open tab's action stored");
        await listed(open, bothTabs.id, 'here').waitFor();
        await page.context().setOffline(false);
        await until(async () => (await stored(open)) === 0, 30_000, 'the open tab sent its action');
        await open.getByRole('list', { name: 'Pending actions' }).waitFor({ state: 'detached' });
        t.equal(await cancelledWhileQueued(bothTabs.id), 1, 'cancelled once');
        t.equal((await stack.client.runs.get(bothTabs.id)).run.status, 'cancelled', 'and it is cancelled');
        await open.close();
      },
    );

    await t.test(
      'storage full: the action is still sent from the tab, and the operator is told it is not saved',
      async (t) => {
        const full = await c.signedIn(operator.token);
        const { run } = await stack.client.runs.create({ template: 'parked' });
        await full.goto(`${stack.apiUrl}/#/runs/${run.id}`);
        await full.locator('.meta code').filter({ hasText: run.id }).waitFor();
        // Fill this origin's localStorage until the browser refuses even one more character.
        const filled = Number(
          await full.evaluate(`(() => {
          let n = 0;
          for (let size = 1 << 20; size >= 1; size >>= 2) {
            const chunk = 'x'.repeat(size);
            try { for (;;) localStorage.setItem('f' + n++, chunk); } catch { n--; }
          }
          return n;
        })()`),
        );
        t.ok(filled > 0, `localStorage full (${filled} entries)`);
        const held = await hold(full, new RegExp(`/v1/runs/${run.id}/cancel$`));
        await full.getByRole('button', { name: 'Cancel', exact: true }).click();
        await full.getByRole('dialog').getByRole('button', { name: 'Cancel run' }).click();
        await held.seen;
        await toast(full, /Could not save "cancel parked/).waitFor();
        t.equal(
          await full.evaluate('Object.keys(localStorage).filter((k) => k.startsWith("ocr.outbox.")).length'),
          0,
          'not stored',
        );
        held.release();
        await full.locator('.page-head .badge[data-status="cancelled"]').waitFor();
        t.equal(
          (await stack.client.runs.get(run.id)).run.status,
          'cancelled',
          'sent from this tab all the same',
        );
        await full.evaluate('localStorage.clear()');
        await full.context().close();
      },
    );

    await t.test(
      'without Web Locks or randomUUID (a console served over plain http): every open tab sends what is stored, once',
      async (t) => {
        const context = await c.browser.newContext({ viewport: { width: 1360, height: 900 } });
        // What a non-secure context lacks (the test's 127.0.0.1 origin is a secure one).
        await context.addInitScript(`
          Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });
          Object.defineProperty(Crypto.prototype, 'randomUUID', { value: undefined, configurable: true });
        `);
        context.setDefaultTimeout(15_000);
        const signIn = (runId: string) => signedInTab(context, stack.apiUrl, operator.token, runId);
        const { run } = await stack.client.runs.create({ template: 'parked' });
        const a = await signIn(run.id);
        const b = await signIn(run.id);
        t.equal(await a.evaluate('typeof navigator.locks'), 'undefined', 'no Web Locks');
        await context.setOffline(true);
        await a.getByRole('button', { name: 'Cancel', exact: true }).click();
        await a.getByRole('dialog').getByRole('button', { name: 'Cancel run' }).click();
        await a.getByRole('button', { name: 'Cancel queued' }).waitFor();
        const keys = (await a.evaluate(
          'Object.keys(localStorage).filter((k) => k.startsWith("ocr.outbox."))',
        )) as string[];
        t.equal(keys.length, 1, 'stored');
        t.match(
          keys[0],
          /\.[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
          'under a v4 UUID key',
        );
        // The other tab cannot tell whether the first is open, so it will send it too.
        await b
          .getByRole('list', { name: 'Pending actions' })
          .locator('li[data-kind="cancel"]:not([data-elsewhere])')
          .waitFor();
        await context.setOffline(false);
        for (const tab of [a, b])
          await tab
            .getByRole('list', { name: 'Pending actions' })
            .waitFor({ state: 'detached', timeout: 30_000 });
        const events = (await stack.client.runs.events(run.id)).events;
        t.equal(events.filter((e) => /cancelled while queued/.test(e.message)).length, 1, 'cancelled once');
        t.equal(await a.evaluate('localStorage.length'), 0, 'nothing left stored');
        await context.close();
      },
    );
  },
);
