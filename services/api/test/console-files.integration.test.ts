/**
 * The console is served from its build directory as it is now, not as it was when the API started:
 * a console built, or rebuilt with new hashed asset names, while the API runs needs no restart.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startStack } from '@ocr/testkit';

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

t.test('a console built and then rebuilt while the API runs is served without a restart', async (t) => {
  const dist = mkdtempSync(join(tmpdir(), 'ocr-console-dist-'));
  t.teardown(() => rmSync(dist, { recursive: true, force: true }));
  const stack = await startStack(t, { s3: false, env: { OCR_CONSOLE_DIR: dist } });

  const before = await get(`${stack.apiUrl}/`);
  t.equal(before.status, 200);
  t.match(before.text, 'The console is not built', 'not built yet: says how to build it');

  // First build: index and one hashed asset appear after the API started.
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'assets', 'index-aaaa.js'), 'console.log("first")');
  writeFileSync(join(dist, 'index.html'), '<script src="/assets/index-aaaa.js"></script>first build');
  t.match((await get(`${stack.apiUrl}/`)).text, 'first build');
  t.same(await get(`${stack.apiUrl}/assets/index-aaaa.js`), { status: 200, text: 'console.log("first")' });

  // Rebuild: Vite empties dist and writes new names.
  rmSync(join(dist, 'assets'), { recursive: true });
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'assets', 'index-bbbb.js'), 'console.log("second")');
  writeFileSync(join(dist, 'index.html'), '<script src="/assets/index-bbbb.js"></script>second build');
  t.match((await get(`${stack.apiUrl}/`)).text, 'second build');
  t.same(await get(`${stack.apiUrl}/assets/index-bbbb.js`), { status: 200, text: 'console.log("second")' });
  t.equal((await get(`${stack.apiUrl}/assets/index-aaaa.js`)).status, 404, 'the old asset is gone');

  // The API's own routes are untouched by the catch-all.
  t.equal((await get(`${stack.apiUrl}/healthz`)).status, 200);
  t.equal((await get(`${stack.apiUrl}/v1/runs`)).status, 401);
  t.equal((await get(`${stack.apiUrl}/no-such-page`)).status, 404);
  t.equal((await get(`${stack.apiUrl}/../package.json`)).status, 404);
});
