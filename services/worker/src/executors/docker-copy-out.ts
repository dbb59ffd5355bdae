/**
 * `copy_out`: files (or whole directories) copied out of an exited container through the engine's archive
 * endpoint (a tar stream, read with tar-stream), written under the run directory, and declared as
 * artifacts. Entry names are checked so a hostile archive can't write outside its folder, and a byte
 * budget bounds what one step can copy.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { extract } from 'tar-stream';
import type { DeclaredArtifact } from './step-schemas.js';
import type { StepContext } from './types.js';

/** Copy each declared path out of the container; a missing path is an `artifact.failed` event, not a crash. */
export async function copyOut(
  container: Docker.Container,
  declared: DeclaredArtifact[],
  ctx: StepContext,
  maxBytes: number,
): Promise<void> {
  const budget = { left: maxBytes };
  for (const [index, item] of declared.entries()) {
    const target = join(ctx.workdir, 'copy-out', safeSegment(ctx.stepName), String(index));
    try {
      const archive = (await container.getArchive({ path: item.path })) as unknown as Readable;
      const files = await extractArchive(archive, target, budget);
      const base = item.name ?? posix.basename(item.path.replace(/\/+$/, ''));
      if (files.length === 0) throw new Error('no regular files at that path');
      for (const file of files) {
        // A single file keeps the declared name; a directory's files are named under it.
        const name = files.length === 1 && file.inner === '' ? base : posix.join(base, file.inner);
        ctx.addArtifact({ name, kind: item.kind, path: file.path });
      }
      ctx.emit({
        level: 'info',
        type: 'artifact.copied',
        message: `copied ${item.path} out of the container (${files.length} file${files.length === 1 ? '' : 's'})`,
        data: { path: item.path, files: files.length },
      });
    } catch (err) {
      const reason =
        (err as { statusCode?: number }).statusCode === 404
          ? 'no such file in the container'
          : (err as Error).message;
      ctx.emit({
        level: 'error',
        type: 'artifact.failed',
        message: `copy_out ${item.path}: ${reason}`,
        data: { path: item.path },
      });
    }
  }
}

interface ExtractedFile {
  /** Where it was written. */
  path: string;
  /** Its path inside the copied directory ('' when the archive is the single file itself). */
  inner: string;
}

/** Write the archive's regular files under `target`; links, devices and escaping names are skipped. */
async function extractArchive(
  archive: Readable,
  target: string,
  budget: { left: number },
): Promise<ExtractedFile[]> {
  const files: ExtractedFile[] = [];
  const reader = extract();
  let root: string | undefined;
  const done = new Promise<void>((resolve, reject) => {
    reader.on('entry', (header, stream, next) => {
      const name = posix
        .normalize(header.name)
        .replace(/^(\.\/)+/, '')
        .replace(/\/+$/, '');
      // The archive's first entry is the requested path itself (a file, or the directory holding the rest).
      root ??= name.split('/')[0];
      const unsafe = name.startsWith('/') || name === '..' || name.startsWith('../');
      if (header.type !== 'file' || unsafe) {
        stream.resume();
        stream.once('end', next);
        return;
      }
      budget.left -= header.size ?? 0;
      if (budget.left < 0) {
        stream.resume();
        reject(new Error('copy_out exceeds the size budget for one step'));
        return;
      }
      const path = join(target, name);
      const inner = name === root ? '' : name.slice((root ?? '').length + 1);
      mkdir(dirname(path), { recursive: true })
        .then(() => pipeline(stream, createWriteStream(path)))
        .then(() => {
          files.push({ path, inner });
          next();
        })
        .catch(reject);
    });
    reader.once('finish', resolve);
    reader.once('error', reject);
  });
  archive.pipe(reader);
  await done;
  return files;
}

function safeSegment(value: string): string {
  return value.replace(/[^A-Za-z0-9_.-]+/g, '_');
}
