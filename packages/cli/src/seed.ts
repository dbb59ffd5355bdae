import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ApiError, type OcrClient } from '@ocr/client';
import type { Logger } from '@ocr/runtime';

/** The demo templates shipped in `examples/templates`. */
export const EXAMPLES_DIR = resolve(import.meta.dirname, '../../../examples/templates');

/** Read template files (YAML or JSON), one template per file. */
export async function readTemplateFiles(
  paths: string[],
): Promise<{ path: string; template: Record<string, unknown> }[]> {
  const out: { path: string; template: Record<string, unknown> }[] = [];
  for (const path of paths)
    out.push({ path, template: parse(await readFile(path, 'utf8')) as Record<string, unknown> });
  return out;
}

/** Create each demo template that does not exist yet (an operator's edits are never overwritten). */
export async function seedTemplates(client: OcrClient, log: Logger, dir = EXAMPLES_DIR): Promise<string[]> {
  const files = (await readdir(dir).catch(() => [] as string[]))
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort();
  const seeded: string[] = [];
  for (const { path, template } of await readTemplateFiles(files.map((f) => join(dir, f)))) {
    try {
      await client.templates.create(template as never);
      seeded.push(String(template.name));
    } catch (err) {
      if (err instanceof ApiError && err.code === 'conflict') continue;
      log.warn({ err, path }, 'demo template not seeded');
    }
  }
  return seeded;
}
