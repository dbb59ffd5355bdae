import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { retry, type Logger } from '@ocr/runtime';
import type { ArtifactRequest, WorkerEvent, WorkerProtocol } from './protocol.js';

/** A file or text a step produced, waiting for upload once the steps are done. */
export interface PendingArtifact {
  step: string;
  name: string;
  kind: ArtifactRequest['kind'];
  content_type?: string;
  /** A file on disk (read streaming) … */
  path?: string;
  /** … or content in memory. */
  content?: string | Buffer;
}

/** Text up to this size travels inline in the API request; anything else goes to object storage. */
export const INLINE_LIMIT = 256 * 1024;

const TEXT_KINDS = new Set(['text', 'markdown', 'json', 'diff']);

const DEFAULT_TYPES: Record<ArtifactRequest['kind'], string> = {
  text: 'text/plain; charset=utf-8',
  markdown: 'text/markdown; charset=utf-8',
  json: 'application/json',
  diff: 'text/x-diff; charset=utf-8',
  image: 'application/octet-stream',
  file: 'application/octet-stream',
  zip: 'application/zip',
};

/** sha256 and size of a file, streamed in chunks so a large file never blocks the event loop for long. */
async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    createReadStream(path, { highWaterMark: 256 * 1024 }),
    async function* (source) {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    async function (source) {
      for await (const _ of source) void _;
    },
  );
  return { sha256: hash.digest('hex'), size };
}

/**
 * Upload a run's artifacts: small text inline; the rest through the presigned URL the API returns (the
 * worker holds no bucket credentials), then confirmed so the API verifies size and sha256. Each upload
 * is retried a few times; a failure is reported as an event and does not fail the run.
 */
export async function uploadArtifacts(
  api: WorkerProtocol,
  runId: string,
  leaseToken: string,
  artifacts: PendingArtifact[],
  emit: (event: Omit<WorkerEvent, 'seq' | 'ts'>) => void,
  leaseLost: () => boolean,
  log: Logger,
  mask: (text: string) => string = (text) => text,
): Promise<void> {
  for (const declared of artifacts) {
    if (leaseLost()) return;
    const artifact = await masked(declared, mask);
    try {
      await withRetries(() => uploadOne(api, runId, leaseToken, artifact), 3);
      emit({
        level: 'info',
        type: 'artifact',
        step: artifact.step,
        message: `artifact ${artifact.name} uploaded`,
        data: { name: artifact.name, kind: artifact.kind },
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'lease_lost') return;
      log.warn({ err, artifact: artifact.name }, 'artifact upload failed');
      emit({
        level: 'error',
        type: 'artifact.failed',
        step: artifact.step,
        message: `artifact ${artifact.name} failed: ${(err as Error).message}`,
        data: { name: artifact.name },
      });
    }
  }
}

/** A text artifact (in memory, or a file up to the inline limit) with secret values masked; others as they are. */
async function masked(artifact: PendingArtifact, mask: (text: string) => string): Promise<PendingArtifact> {
  if (!TEXT_KINDS.has(artifact.kind)) return artifact;
  let text: string | undefined;
  if (typeof artifact.content === 'string') text = artifact.content;
  else if (Buffer.isBuffer(artifact.content) && isUtf8(artifact.content))
    text = artifact.content.toString('utf8');
  else if (artifact.path) {
    if ((await realpath(artifact.path).catch(() => artifact.path)) !== artifact.path) return artifact;
    const size = await stat(artifact.path)
      .then((s) => s.size)
      .catch(() => Infinity);
    if (size <= INLINE_LIMIT) {
      const bytes = await readFile(artifact.path);
      if (isUtf8(bytes)) text = bytes.toString('utf8');
    }
  }
  if (text === undefined) return artifact;
  const out = mask(text);
  if (out === text) return artifact;
  const { path: _path, ...rest } = artifact;
  return { ...rest, content: out };
}

async function uploadOne(
  api: WorkerProtocol,
  runId: string,
  leaseToken: string,
  artifact: PendingArtifact,
): Promise<string> {
  const contentType = artifact.content_type ?? DEFAULT_TYPES[artifact.kind];
  let body: Buffer | undefined =
    typeof artifact.content === 'string' ? Buffer.from(artifact.content) : artifact.content;
  let sha256: string;
  let size: number;
  if (body) {
    sha256 = createHash('sha256').update(body).digest('hex');
    size = body.length;
  } else if (artifact.path) {
    // Collected as a resolved path inside the run directory: a later step must not have swapped in a symlink.
    if ((await realpath(artifact.path).catch(() => artifact.path)) !== artifact.path)
      throw new Error(`artifact path ${artifact.path} changed into a symlink after its step`);
    ({ sha256, size } = await hashFile(artifact.path));
    if (size <= INLINE_LIMIT && TEXT_KINDS.has(artifact.kind)) body = await readFile(artifact.path);
  } else {
    throw new Error('artifact has neither content nor path');
  }
  const inline = body && size <= INLINE_LIMIT && TEXT_KINDS.has(artifact.kind) && isUtf8(body);
  const grant = await api.createArtifact(runId, leaseToken, {
    name: artifact.name,
    kind: artifact.kind,
    content_type: contentType,
    size,
    sha256,
    ...(inline ? { content: body!.toString('utf8') } : {}),
  });
  if (!grant.upload) return grant.artifact.id;
  const upload = body ?? (artifact.path ? createReadStream(artifact.path) : undefined);
  const response = await fetch(grant.upload.url, {
    method: grant.upload.method,
    headers: { 'content-length': String(size), ...(grant.upload.headers ?? {}) },
    body: upload as unknown as NonNullable<RequestInit['body']>,
    duplex: 'half',
  } as RequestInit);
  if (!response.ok) throw new Error(`upload failed with HTTP ${response.status}`);
  await api.completeArtifact(grant.artifact.id, leaseToken);
  return grant.artifact.id;
}

/**
 * Upload one artifact now, by the same path (inline or presigned, verified, retried), for a step that needs
 * its id before the step ends (Spec Kit links each stored document to its artifact). Rejects on failure.
 */
export async function uploadArtifactNow(
  api: WorkerProtocol,
  runId: string,
  leaseToken: string,
  artifact: PendingArtifact,
): Promise<string> {
  return withRetries(() => uploadOne(api, runId, leaseToken, artifact), 3);
}

function isUtf8(buffer: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buffer);
    return true;
  } catch {
    return false;
  }
}

/** An upload is tried three times (a lost lease is final). */
function withRetries<T>(fn: () => Promise<T>, attempts: number): Promise<T> {
  return retry(fn, {
    attempts,
    initialMs: 400,
    maxMs: 5_000,
    retryable: (err) => (err as { code?: string }).code !== 'lease_lost',
  });
}
