import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../../..');
export const CONSOLE_DIST = join(ROOT, 'packages/console/dist');
const SOURCES = [
  'packages/console/src',
  'packages/console/index.html',
  'packages/console/vite.config.ts',
  'packages/console/package.json',
  'packages/client/src',
  'packages/contracts/src',
];
// One lock per checkout, outside the tree: parallel test files must not build into the same dist at once.
const LOCK = join(
  tmpdir(),
  `ocr-console-build-${createHash('sha1').update(ROOT).digest('hex').slice(0, 10)}.lock`,
);
const STALE_LOCK_MS = 180_000;

function newest(path: string): number {
  const info = statSync(path, { throwIfNoEntry: false });
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  return readdirSync(path).reduce((max, entry) => Math.max(max, newest(join(path, entry))), info.mtimeMs);
}

function isFresh(): boolean {
  const built = statSync(join(CONSOLE_DIST, 'index.html'), { throwIfNoEntry: false });
  return !!built && built.mtimeMs >= Math.max(...SOURCES.map((s) => newest(join(ROOT, s))));
}

function tryLock(): boolean {
  try {
    mkdirSync(LOCK);
    return true;
  } catch {
    const info = statSync(LOCK, { throwIfNoEntry: false });
    if (info && Date.now() - info.mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
    return false;
  }
}

/** Build packages/console/dist if it is missing or older than its sources (or the client and contracts it bundles). */
export async function ensureConsoleBuilt(): Promise<string> {
  while (!isFresh()) {
    if (!tryLock()) {
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      if (isFresh()) break;
      const res = spawnSync(
        process.execPath,
        [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'],
        { cwd: join(ROOT, 'packages/console'), encoding: 'utf8', timeout: 150_000 },
      );
      if (res.status !== 0) throw new Error(`console build failed:\n${res.stdout}\n${res.stderr}`);
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
  }
  return CONSOLE_DIST;
}
