/** A kit as a zip (one folder of the four documents) and back, with fflate: small, maintained, no native code. */
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { SPEC_FILES, type SpecKitFiles } from './types.js';

/** The zip could not be read as a kit. */
export class SpecKitZipError extends Error {
  readonly code = 'invalid_spec_kit_zip';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SpecKitZipError';
  }
}

/** Entries larger than this are refused: a kit is a few text files, a zip bomb is not. */
const MAX_ENTRY_BYTES = 8 * 1024 * 1024;

/** Zip the files under `folder/` (a fixed date keeps the bytes reproducible for the same content). */
export function zipSpecKit(files: SpecKitFiles, folder: string): Uint8Array {
  const entries: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const [name, content] of Object.entries(files))
    entries[`${folder}/${name}`] = [strToU8(content), { mtime: new Date('2020-01-01T00:00:00Z') }];
  return zipSync(entries, { level: 6 });
}

/**
 * Read a kit from a zip: the four documents at the top level or in one folder (the shallowest folder that
 * holds any of them). Other entries are ignored; `..` and absolute paths are never trusted.
 */
export function unzipSpecKit(bytes: Uint8Array): SpecKitFiles {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, {
      filter: (file) =>
        SPEC_FILES.some((name) => file.name === name || file.name.endsWith(`/${name}`)) &&
        file.originalSize <= MAX_ENTRY_BYTES,
    });
  } catch (err) {
    throw new SpecKitZipError(`not a readable zip: ${(err as Error).message}`, { cause: err });
  }
  const paths = Object.keys(entries).filter((p) => !p.startsWith('/') && !p.split('/').includes('..'));
  if (paths.length === 0) throw new SpecKitZipError(`the zip holds none of ${SPEC_FILES.join(', ')}`);
  const folderOf = (p: string) => p.slice(0, p.lastIndexOf('/') + 1);
  const folder = paths
    .map(folderOf)
    .sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b))[0]!;
  const files: SpecKitFiles = {};
  for (const name of SPEC_FILES) {
    const data = entries[`${folder}${name}`];
    if (data) files[name] = strFromU8(data);
  }
  return files;
}
