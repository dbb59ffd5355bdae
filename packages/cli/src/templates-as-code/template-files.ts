import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';

/** A template file read from disk: its parsed content, or why it could not be read. */
export type TemplateFile =
  | { path: string; ok: true; content: Record<string, unknown> }
  | { path: string; ok: false; problems: string[] };

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Every template file under `paths`: a file is taken whatever its extension; a directory is walked
 * recursively for .yaml, .yml and .json files (dot-directories such as .git skipped), in code-point order
 * of the path so every machine applies them in the same order.
 */
export async function findTemplateFiles(paths: string[]): Promise<{ files: string[]; problems: string[] }> {
  const files: string[] = [];
  const problems: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => err);
    if (info instanceof Error) {
      problems.push(`${path}: ${info.code === 'ENOENT' ? 'no such file or directory' : info.message}`);
    } else if (info.isDirectory()) {
      const found = await walk(path);
      if (found.length === 0) problems.push(`${path}: no .yaml, .yml or .json files`);
      files.push(...found.sort((a, b) => compare(relative(path, a), relative(path, b))));
    } else files.push(path);
  }
  return { files, problems };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    // A symlinked file is read; a symlinked directory is not followed (no loops).
    const isFile = entry.isFile() || (entry.isSymbolicLink() && (await isRegular(path)));
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (isFile && EXTENSIONS.has(extname(entry.name).toLowerCase())) out.push(path);
  }
  return out;
}

async function isRegular(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Read and parse one file: JSON for .json, YAML otherwise; exactly one mapping per file. */
export async function readTemplateFile(path: string): Promise<TemplateFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { path, ok: false, problems: [`${path}: ${(err as Error).message}`] };
  }
  let values: unknown[];
  if (extname(path).toLowerCase() === '.json') {
    try {
      values = [JSON.parse(text)];
    } catch (err) {
      return { path, ok: false, problems: [`${path}: invalid JSON: ${(err as Error).message}`] };
    }
  } else {
    const lines = new LineCounter();
    const docs = parseAllDocuments(text, { prettyErrors: false, lineCounter: lines });
    if (docs.length === 0)
      return { path, ok: false, problems: [`${path}: empty file (expected one template)`] };
    // The first syntax error only: the ones after it are usually the parser losing its footing there.
    const error = docs.flatMap((doc) => doc.errors)[0];
    if (error) {
      const { line, col } = lines.linePos(error.pos[0]);
      return {
        path,
        ok: false,
        problems: [`${path}:${line}:${col}: invalid YAML: ${firstLine(error.message)}`],
      };
    }
    if (docs.length > 1)
      return {
        path,
        ok: false,
        problems: [`${path}: ${docs.length} YAML documents (one template per file)`],
      };
    values = docs.map((doc) => doc.toJS({ maxAliasCount: 100 }) as unknown);
  }
  const [value] = values;
  if (value === null || value === undefined)
    return { path, ok: false, problems: [`${path}: empty file (expected one template)`] };
  if (typeof value !== 'object' || Array.isArray(value))
    return {
      path,
      ok: false,
      problems: [
        `${path}: expected a mapping (one template), found ${Array.isArray(value) ? 'a list' : typeof value}`,
      ],
    };
  return { path, ok: true, content: value as Record<string, unknown> };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!;
}
