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

/** How storing an artifact is retried; one setting for the run's uploads and a step's own uploads. */
export interface StoreOptions {
  /**
   * How long one artifact is retried through outages of the API or of object storage
   * (`OCR_ARTIFACT_RETRY_S`). Storing that still fails after this window fails the run.
   */
  retryMs: number;
  /** Aborted when the run stops (cancel, shutdown, run timeout, lost lease): no further tries. */
  signal?: AbortSignal;
  /** Told of each failed try that will be tried again (an `artifact.retrying` event for the operator). */
  onRetry?: (name: string, err: unknown, delayMs: number) => void;
}

/** A declared file could not be read (missing, or swapped for a symlink): the step's doing, not storage's. */
export class ArtifactFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactFileError';
  }
}

/** An artifact the step produced could not be stored: refused, or storage unreachable for the whole window. */
export interface StoreFailure {
  name: string;
  message: string;
}

/**
 * Upload a run's artifacts: small text inline; the rest through the presigned URL the API returns (the
 * worker holds no bucket credentials), then confirmed so the API verifies size and sha256. Each phase is
 * retried through outages for `retryMs`. A declared file that cannot be read is reported as an
 * `artifact.failed` event; an artifact that could not be stored is reported the same way and returned,
 * so the run does not end `success` without it.
 */
export async function uploadArtifacts(
  api: WorkerProtocol,
  runId: string,
  leaseToken: string,
  artifacts: PendingArtifact[],
  emit: (event: Omit<WorkerEvent, 'seq' | 'ts'>) => void,
  leaseLost: () => boolean,
  log: Logger,
  store: StoreOptions,
  mask: (text: string) => string = (text) => text,
): Promise<StoreFailure[]> {
  const failures: StoreFailure[] = [];
  for (const declared of artifacts) {
    if (leaseLost()) return failures;
    try {
      const artifact = await masked(declared, mask).catch((err: Error) => {
        throw new ArtifactFileError(err.message);
      });
      await uploadOne(api, runId, leaseToken, artifact, withRetryEvents(store, artifact, emit));
      emit({
        level: 'info',
        type: 'artifact',
        step: artifact.step,
        message: `artifact ${artifact.name} uploaded`,
        data: { name: artifact.name, kind: artifact.kind },
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'lease_lost') return failures;
      const message = `artifact ${declared.name} failed: ${(err as Error).message}`;
      log.warn({ err, artifact: declared.name }, 'artifact upload failed');
      emit({
        level: 'error',
        type: 'artifact.failed',
        step: declared.step,
        message,
        data: { name: declared.name },
      });
      if (!(err instanceof ArtifactFileError)) failures.push({ name: declared.name, message });
    }
  }
  return failures;
}

/** Each retry of an artifact becomes a warn event in the run's log (an outage is visible while it lasts). */
function withRetryEvents(
  store: StoreOptions,
  artifact: PendingArtifact,
  emit: (event: Omit<WorkerEvent, 'seq' | 'ts'>) => void,
): StoreOptions {
  return {
    ...store,
    onRetry: (name, err, delayMs) => {
      store.onRetry?.(name, err, delayMs);
      emit({
        level: 'warn',
        type: 'artifact.retrying',
        step: artifact.step,
        message: `artifact ${name}: ${(err as Error).message}; trying again in ${(delayMs / 1000).toFixed(1)} s`,
        data: { name, retry_in_ms: delayMs },
      });
    },
  };
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
  store: StoreOptions,
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
    const path = artifact.path;
    // Collected as a resolved path inside the run directory: a later step must not have swapped in a symlink.
    if ((await realpath(path).catch(() => path)) !== path)
      throw new ArtifactFileError(`artifact path ${path} changed into a symlink after its step`);
    ({ sha256, size } = await hashFile(path).catch((err: Error) => {
      throw new ArtifactFileError(err.message);
    }));
    if (size <= INLINE_LIMIT && TEXT_KINDS.has(artifact.kind)) body = await readFile(path);
  } else {
    throw new ArtifactFileError('artifact has neither content nor path');
  }
  const inline = body && size <= INLINE_LIMIT && TEXT_KINDS.has(artifact.kind) && isUtf8(body);
  // One window for the whole artifact; each phase is retried on its own, so a failed upload does not
  // declare the artifact again (each declaration is a row) and a failed check does not upload it again.
  const deadline = Date.now() + store.retryMs;
  const grant = await retryStore(artifact.name, store, deadline, () =>
    api.createArtifact(runId, leaseToken, {
      name: artifact.name,
      kind: artifact.kind,
      content_type: contentType,
      size,
      sha256,
      ...(inline ? { content: body!.toString('utf8') } : {}),
    }),
  );
  const upload = grant.upload;
  if (!upload) return grant.artifact.id;
  await retryStore(artifact.name, store, deadline, async () => {
    // A fresh stream per try: a stream is read once.
    const stream = body ?? (artifact.path ? createReadStream(artifact.path) : undefined);
    const response = await fetch(upload.url, {
      method: upload.method,
      headers: { 'content-length': String(size), ...(upload.headers ?? {}) },
      body: stream as unknown as NonNullable<RequestInit['body']>,
      duplex: 'half',
      // A stalled store must not hold the run past the window.
      signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
    } as RequestInit);
    await response.body?.cancel();
    if (!response.ok) throw new UploadError(response.status);
  });
  await retryStore(artifact.name, store, deadline, () => api.completeArtifact(grant.artifact.id, leaseToken));
  return grant.artifact.id;
}

/** The object store answered a presigned upload with an error status. */
class UploadError extends Error {
  constructor(readonly status: number) {
    super(`upload failed with HTTP ${status}`);
    this.name = 'UploadError';
  }
}

/**
 * Worth another try: the API or the store unreachable, timing out, overloaded or answering 5xx (a store or
 * database outage). A 4xx is an answer about this artifact (refused, mismatched, lease lost) and final.
 */
function transient(err: unknown): boolean {
  if ((err as { code?: string }).code === 'lease_lost') return false;
  if (err instanceof ArtifactFileError) return false;
  const status = (err as { status?: unknown }).status;
  if (typeof status === 'number') return status >= 500 || status === 408 || status === 429;
  return true;
}

function retryStore<T>(
  name: string,
  store: StoreOptions,
  deadline: number,
  fn: () => Promise<T>,
): Promise<T> {
  return retry(fn, {
    initialMs: 500,
    maxMs: 5_000,
    deadlineMs: Math.max(0, deadline - Date.now()),
    retryable: transient,
    signal: store.signal,
    onRetry: (err, _attempt, delayMs) => store.onRetry?.(name, err, delayMs),
  });
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
  store: StoreOptions,
): Promise<string> {
  return uploadOne(api, runId, leaseToken, artifact, store);
}

function isUtf8(buffer: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buffer);
    return true;
  } catch {
    return false;
  }
}
