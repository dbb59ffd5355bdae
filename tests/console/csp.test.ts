// The console works under the API's strict Content-Security-Policy (no 'unsafe-eval', no inline script):
// every CSP violation the page reports fails the test. The run form is the part that used to need eval
// (Ajv compiled each params schema to a function); it must still validate and start a run.
import t from 'tap';
import { startConsole } from './helpers/console.js';

t.test(
  'console under the strict CSP: sign in, run form validates and starts a run, no violation',
  async (t) => {
    const c = await startConsole(t, { worker: false });
    const { stack } = c;
    await stack.client.templates.create({
      name: 'csp_check',
      description: 'A form with every kind of check the validator must do',
      params_schema: {
        type: 'object',
        properties: {
          env: { type: 'string', title: 'Environment', enum: ['staging', 'prod'], default: 'staging' },
          host: { type: 'string', title: 'Host', pattern: '^[a-z]+$' },
          count: { type: 'integer', title: 'Count', minimum: 1, maximum: 10, default: 2 },
        },
        required: ['env', 'host', 'count'],
        additionalProperties: false,
      },
      steps: [{ name: 'say', kind: 'shell', script: 'echo "$OCR_PARAM_HOST"' }],
    });
    const operator = await stack.tokenFor('operator');

    const root = await fetch(`${stack.apiUrl}/`);
    const csp = root.headers.get('content-security-policy') ?? '';
    t.match(csp, /script-src 'self'(;|$)/, `script-src is only 'self': ${csp}`);
    t.notMatch(csp, /unsafe-eval/, 'no unsafe-eval');

    const context = await c.browser.newContext({ viewport: { width: 1360, height: 900 } });
    t.teardown(() => context.close());
    // Recorded from the first script on, before the console's own code runs.
    await context.addInitScript({
      content: `window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) =>
        window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)')));`,
    });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const reported: string[] = [];
    page.on('console', (msg) => {
      if (/Content Security Policy|unsafe-eval|EvalError/i.test(msg.text())) reported.push(msg.text());
    });
    page.on('pageerror', (err) => reported.push(`page error: ${err.message}`));

    await page.goto(stack.apiUrl + '/');
    await page.getByLabel('API token').fill(operator.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Runboard' }).waitFor();
    await page.locator('[data-conn="open"]').waitFor();

    await page.getByRole('link', { name: 'Templates', exact: true }).click();
    await page.getByRole('link', { name: 'Run csp_check' }).click();
    // Client-side validation: a pattern and a maximum the form must refuse before anything is sent.
    await page.getByRole('textbox', { name: /^Host/ }).fill('NOT-lower');
    await page.getByRole('spinbutton', { name: /^Count/ }).fill('11');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page
      .getByText(/does not match pattern/)
      .first()
      .waitFor();
    await page.getByText(/10/).first().waitFor();
    t.equal((await stack.client.runs.list({})).runs.length, 0, 'an invalid form sends nothing');

    await page.getByRole('combobox', { name: /^Environment/ }).selectOption('prod');
    await page.getByRole('textbox', { name: /^Host/ }).fill('alpha');
    await page.getByRole('spinbutton', { name: /^Count/ }).fill('3');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/#\/runs\/[0-9a-f-]{36}/);
    const runId = /runs\/([0-9a-f-]{36})/.exec(page.url())![1]!;
    const { run } = await stack.client.runs.get(runId);
    t.same(run.params, { env: 'prod', host: 'alpha', count: 3 }, 'the run has the form values');

    // The other pages too: history and the fleet.
    const nav = page.getByRole('navigation', { name: 'Sections' });
    await nav.getByRole('link', { name: 'Runs' }).click();
    await page.getByText(runId.slice(0, 8)).first().waitFor();
    await nav.getByRole('link', { name: 'Workers' }).click();
    await page
      .getByRole('heading', { name: /Workers/ })
      .first()
      .waitFor();

    const violations = await page.evaluate('window.__cspViolations');
    t.same(violations, [], 'no CSP violation reported by the page');
    t.same(reported, [], 'no CSP or eval error in the console');
  },
);
