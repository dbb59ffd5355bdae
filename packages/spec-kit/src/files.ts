/** A kit on disk: read the four documents from a directory, write a generated kit into one. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SPEC_FILES, type SpecKitFiles } from './types.js';

/** The directory could not be read at all (a missing document is a validation problem, not this). */
export class SpecKitDirError extends Error {
  readonly code = 'spec_kit_dir_unreadable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SpecKitDirError';
  }
}

/** Read the documents present in `dir`; missing ones are left out for the validator to report. */
export async function readSpecKitDir(dir: string): Promise<SpecKitFiles> {
  const files: SpecKitFiles = {};
  for (const name of SPEC_FILES) {
    try {
      files[name] = await readFile(join(dir, name), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      if (code === 'ENOTDIR') throw new SpecKitDirError(`${dir}: not a directory`, { cause: err });
      throw new SpecKitDirError(`${join(dir, name)}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (Object.keys(files).length === 0) {
    const exists = await readFile(dir).then(
      () => 'file',
      (err: NodeJS.ErrnoException) => (err.code === 'EISDIR' ? 'dir' : 'none'),
    );
    if (exists === 'none') throw new SpecKitDirError(`${dir}: no such directory`);
    if (exists === 'file') throw new SpecKitDirError(`${dir}: not a directory`);
  }
  return files;
}

/** Write each document into `dir` (created if needed); returns the paths written. */
export async function writeSpecKitDir(dir: string, files: SpecKitFiles): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    await writeFile(path, content, 'utf8');
    written.push(path);
  }
  return written;
}
