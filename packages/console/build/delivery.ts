import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** What a first visit downloads, gzipped, at most: index.html, its entry script, the modules it preloads, its CSS. */
export const FIRST_LOAD_BUDGET_BYTES = 150 * 1024;

export interface FirstLoad {
  /** Each file the browser fetches before the console can paint, with its gzipped size. */
  files: { path: string; gzip: number }[];
  total: number;
}

/**
 * The first load as the browser sees it: index.html plus every script, module preload and stylesheet it
 * links. Lazy chunks (the run form, the viewers) are not in it: they load when their page opens.
 */
export function firstLoad(dist: string): FirstLoad {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const linked = [...html.matchAll(/<(?:script|link)\b[^>]*?\b(?:src|href)="\/([^"]+)"/g)]
    .map((m) => m[1]!)
    .filter((path) => !path.startsWith('data:'));
  const files = ['index.html', ...new Set(linked)].map((path) => ({
    path,
    gzip: gzipSync(readFileSync(join(dist, path)), { level: 9 }).length,
  }));
  return { files, total: files.reduce((sum, f) => sum + f.gzip, 0) };
}

/** Throws, naming each file and its size, when the first load is over budget. */
export function checkBudget(dist: string, budget = FIRST_LOAD_BUDGET_BYTES): FirstLoad {
  const load = firstLoad(dist);
  if (load.total > budget) {
    const list = load.files.map((f) => `  ${f.path} ${(f.gzip / 1024).toFixed(1)} kB`).join('\n');
    throw new Error(
      `console first load is ${(load.total / 1024).toFixed(1)} kB gzipped, over the ${(budget / 1024).toFixed(0)} kB budget:\n${list}\n` +
        'split what the first page does not need behind a lazy import()',
    );
  }
  return load;
}

const COMPRESSIBLE = /\.(?:js|css|html|svg|json|txt|map)$/;

/**
 * Writes `name.br` and `name.gz` next to every compressible file, once at build time (maximum levels:
 * the cost is paid by the build, not per request). The API serves them to browsers that accept them.
 */
export function precompress(dist: string): number {
  let count = 0;
  for (const entry of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
    const path = join(dist, entry);
    if (!COMPRESSIBLE.test(entry) || !statSync(path).isFile()) continue;
    const body = readFileSync(path);
    writeFileSync(`${path}.gz`, gzipSync(body, { level: 9 }));
    writeFileSync(
      `${path}.br`,
      brotliCompressSync(body, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
          [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
        },
      }),
    );
    count++;
  }
  return count;
}
