// How the console reaches browsers: the first-load budget the build enforces, precompressed files chosen by
// Accept-Encoding, cache headers (immutable hashed assets, revalidated index.html), and a console rebuilt
// under a running API served without a restart.
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import t from 'tap';
import { startStack } from '@ocr/testkit';
import { checkBudget, FIRST_LOAD_BUDGET_BYTES, firstLoad } from '../../packages/console/build/delivery.js';
import { ensureConsoleBuilt } from './helpers/build.js';

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw GET (no automatic decompression) with the Accept-Encoding a browser would send. */
function get(url: string, acceptEncoding?: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { headers: acceptEncoding ? { 'accept-encoding': acceptEncoding } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

t.test('the build holds the first load to 150 kB gzipped, and the check fails when it is over', async (t) => {
  const dist = await ensureConsoleBuilt();
  const load = firstLoad(dist);
  t.comment(
    `first load ${(load.total / 1024).toFixed(1)} kB gzipped: ${load.files.map((f) => f.path).join(', ')}`,
  );
  t.ok(
    load.files.some((f) => f.path.endsWith('.js')),
    'the entry script is counted',
  );
  t.ok(
    load.files.some((f) => f.path.endsWith('.css')),
    'the stylesheet is counted',
  );
  t.ok(load.total <= FIRST_LOAD_BUDGET_BYTES, `within budget (${load.total} bytes)`);
  t.throws(
    () => checkBudget(dist, load.total - 1),
    /over the .* budget/,
    'one byte less and the build fails',
  );
});

t.test(
  'precompressed files by Accept-Encoding; immutable hashed assets; index.html revalidated',
  async (t) => {
    const dist = await ensureConsoleBuilt();
    const stack = await startStack(t, { s3: false, env: { OCR_CONSOLE_DIR: dist } });
    const html = await readFile(join(dist, 'index.html'));
    const script = (await readdir(join(dist, 'assets'))).find((f) => /^index-.*\.js$/.test(f))!;
    const original = await readFile(join(dist, 'assets', script));

    const br = await get(stack.apiUrl + '/', 'gzip, deflate, br');
    t.equal(br.status, 200);
    t.equal(br.headers['content-encoding'], 'br');
    t.equal(br.headers['cache-control'], 'no-cache', 'index.html is revalidated on every load');
    t.match(br.headers['content-type'], /text\/html/);
    t.match(br.headers.vary, /accept-encoding/i);
    t.same(brotliDecompressSync(br.body), html);

    const asset = await get(`${stack.apiUrl}/assets/${script}`, 'gzip');
    t.equal(asset.headers['content-encoding'], 'gzip');
    t.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    t.match(asset.headers['content-type'], /javascript/);
    t.same(gunzipSync(asset.body), original);
    t.ok(asset.body.length < original.length / 2, 'gzip at least halves the entry script');

    const plain = await get(`${stack.apiUrl}/assets/${script}`);
    t.equal(
      plain.headers['content-encoding'],
      undefined,
      'a client that accepts nothing gets the plain file',
    );
    t.same(plain.body, original);
    t.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');

    const named = await get(stack.apiUrl + '/index.html', 'br');
    t.equal(named.headers['cache-control'], 'no-cache', '/index.html too');
  },
);

t.test(
  'a console rebuilt while the API runs is served at once, old and new hashed assets alike',
  async (t) => {
    const dist = await ensureConsoleBuilt();
    const dir = await mkdtemp(join(tmpdir(), 'ocr-console-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await cp(dist, dir, { recursive: true });
    const stack = await startStack(t, { s3: false, env: { OCR_CONSOLE_DIR: dir } });
    t.same((await get(stack.apiUrl + '/', 'br')).status, 200);

    // What `vite build` does: empty the directory, write new hashed names and an index.html naming them.
    await rm(dir, { recursive: true, force: true });
    await cp(dist, dir, { recursive: true });
    const fresh = 'app-Zx9Qw2Lm.js';
    const body = 'console.log("rebuilt");\n';
    await writeFile(join(dir, 'assets', fresh), body);
    const html = `<!doctype html><script type="module" src="/assets/${fresh}"></script>`;
    for (const f of ['index.html.br', 'index.html.gz']) await rm(join(dir, f));
    await writeFile(join(dir, 'index.html'), html);

    const page = await get(stack.apiUrl + '/', 'br');
    t.equal(page.body.toString(), html, 'the new index.html, without a restart');
    const asset = await get(`${stack.apiUrl}/assets/${fresh}`);
    t.equal(asset.status, 200, 'an asset that did not exist at start is served');
    t.equal(asset.body.toString(), body);
    t.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    t.equal((await get(`${stack.apiUrl}/assets/gone-Ab12Cd34.js`)).status, 404);
  },
);
