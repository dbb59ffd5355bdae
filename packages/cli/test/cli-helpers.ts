/** Run the real `ocr` binary against a test stack, with files in a temporary directory. */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Stack } from '@ocr/testkit';

const ROOT = resolve(import.meta.dirname, '../../..');
const OCR = join(ROOT, 'packages/cli/bin/ocr.js');

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** `ocr ...args` with `env` on top of the test's environment; resolves with its exit code and output. */
export function ocr(env: Record<string, string>, ...args: string[]): Promise<Result> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [OCR, ...args],
      { cwd: ROOT, timeout: 120_000, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** A temporary directory removed at teardown. */
export async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ocr-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The CLI's environment for a stack (the admin token unless another is given). */
export function envFor(stack: Stack, token = stack.adminToken): Record<string, string> {
  return { OCR_API_URL: stack.apiUrl, OCR_TOKEN: token };
}

/** Write templates under `dir` (paths relative to it): JSON for .json names, YAML otherwise. */
export async function writeTemplates(dir: string, templates: Record<string, unknown>): Promise<void> {
  for (const [file, body] of Object.entries(templates)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(
      join(dir, file),
      file.endsWith('.json') ? JSON.stringify(body, null, 2) : stringify(body),
    );
  }
}
