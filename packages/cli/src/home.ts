import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Where `ocr dev` keeps its data between starts: `$OCR_HOME`, else `.ocr/` in the working directory. */
export function ocrHome(env: Record<string, string | undefined> = process.env): string {
  return resolve(env.OCR_HOME || '.ocr');
}

/** Read a small secret kept in the home folder, or create it with `make` (file mode 0600). */
export async function rememberedSecret(
  home: string,
  name: string,
  make: () => string | Promise<string>,
): Promise<string> {
  const path = join(home, name);
  const existing = (await readFile(path, 'utf8').catch(() => '')).trim();
  if (existing) return existing;
  const value = await make();
  await mkdir(home, { recursive: true });
  await writeFile(path, `${value}\n`, { mode: 0o600 });
  return value;
}
