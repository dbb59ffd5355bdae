import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from '@ocr/runtime';

const CONSOLE_DIR = resolve(import.meta.dirname, '../../console');

/**
 * `npm ci && npm start` must show the console, and `npm ci` builds nothing: build it once when its
 * production build is missing (Vite is there on a development checkout). A failed build is logged and the
 * control room starts anyway; the API then says how to build it.
 */
export async function ensureConsoleBuilt(log: Logger): Promise<void> {
  if (process.env.OCR_CONSOLE_DIR || existsSync(resolve(CONSOLE_DIR, 'dist/index.html'))) return;
  const vite = resolve(CONSOLE_DIR, '../../node_modules/vite/bin/vite.js');
  if (!existsSync(vite))
    return log.warn('console not built and Vite is not installed: run npm run build -w @ocr/console');
  log.info('building the console once (packages/console/dist)');
  const child = spawn(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
    cwd: CONSOLE_DIR,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const code = await new Promise<number | null>((done) => child.on('exit', done));
  if (code !== 0) log.warn({ code }, 'console build failed: run npm run build -w @ocr/console');
}
