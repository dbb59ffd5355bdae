import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startStack, startTestWorker, type Stack, type StackOptions, type TestLike } from '@ocr/testkit';
import { ensureConsoleBuilt } from './build.js';

export const SCREENSHOTS = resolve(import.meta.dirname, '../screenshots');

export interface ConsoleStack {
  stack: Stack;
  browser: Browser;
  /** A new page (own context: own sessionStorage) at the console's sign-in screen. */
  open(scheme?: 'light' | 'dark'): Promise<Page>;
  /** A page signed in with `token` (admin by default), showing the runboard. */
  signedIn(token?: string, scheme?: 'light' | 'dark'): Promise<Page>;
  shot(
    page: Page,
    name: string,
    clip?: { x: number; y: number; width: number; height: number },
  ): Promise<string>;
}

/**
 * A real API serving the built console, a real in-process worker on lane A, and one headless Debian
 * Chromium for the whole file.
 */
export async function startConsole(
  t: TestLike,
  options: StackOptions & { worker?: boolean; workerEnv?: Record<string, string> } = {},
): Promise<ConsoleStack> {
  const dist = await ensureConsoleBuilt();
  const stack = await startStack(t, { ...options, env: { OCR_CONSOLE_DIR: dist, ...(options.env ?? {}) } });
  if (options.worker !== false) await startTestWorker(t, stack, options.workerEnv ?? {});
  const browser = await chromium.launch({
    // scripts/setup-machine.ts checks (or installs) the same path before the run.
    executablePath: process.env.OCR_CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.teardown(() => browser.close());
  mkdirSync(SCREENSHOTS, { recursive: true });
  const open = async (scheme: 'light' | 'dark' = 'light') => {
    const context = await browser.newContext({
      viewport: { width: 1360, height: 900 },
      acceptDownloads: true,
      colorScheme: scheme,
    });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    // Errors in the page are test failures' best clue: surface them in the test output.
    page.on('pageerror', (err) => process.stderr.write(`[page error] ${err.message}\n`));
    page.on(
      'console',
      (msg) => msg.type() === 'error' && process.stderr.write(`[page console] ${msg.text()}\n`),
    );
    await page.goto(stack.apiUrl + '/');
    return page;
  };
  return {
    stack,
    browser,
    open,
    signedIn: async (token = stack.adminToken, scheme: 'light' | 'dark' = 'light') => {
      const page = await open(scheme);
      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Runboard' }).waitFor();
      await page.locator('[data-conn="open"]').waitFor();
      return page;
    },
    shot: async (page, name, clip) => {
      const path = join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path, fullPage: false, ...(clip ? { clip } : {}) });
      return path;
    },
  };
}

/** Poll until `fn` returns a truthy value. */
export async function until<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
