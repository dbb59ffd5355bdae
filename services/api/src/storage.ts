import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '@ocr/runtime/s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import type { ApiConfig } from './config.js';
import { apiError } from './errors.js';

/** Object storage for artifacts: presigned URLs for workers and readers, verification on completion. */
export interface Storage {
  prefix: string;
  uploadUrl(
    key: string,
    contentType: string,
    size: number,
  ): Promise<{ url: string; headers: Record<string, string>; expiresIn: number }>;
  downloadUrl(key: string, filename: string): Promise<string>;
  /**
   * Stream the stored object and measure it; undefined when there is no such object. Throws
   * `storage_unavailable` (503, worth a retry) when the store cannot be reached or fails mid-read: an outage
   * must not read as "nothing was uploaded", which is final.
   */
  measure(key: string): Promise<{ size: number; sha256: string } | undefined>;
}

const UPLOAD_TTL_S = 15 * 60;
const DOWNLOAD_TTL_S = 5 * 60;

/** S3-compatible storage through presigned URLs, or undefined when no bucket is configured. */
export function createStorage(config: Readonly<ApiConfig>): Storage | undefined {
  const bucket = config.OCR_S3_BUCKET;
  const client = createS3Client(config);
  if (!client || !bucket) return undefined;
  return {
    prefix: config.OCR_S3_PREFIX,
    async uploadUrl(key, contentType, size) {
      const url = await getSignedUrl(
        client,
        new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: contentType, ContentLength: size }),
        {
          expiresIn: UPLOAD_TTL_S,
        },
      );
      return { url, headers: { 'content-type': contentType }, expiresIn: UPLOAD_TTL_S };
    },
    async downloadUrl(key, filename) {
      const safe = filename.replace(/[^A-Za-z0-9._-]/g, '_');
      return getSignedUrl(
        client,
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ResponseContentDisposition: `attachment; filename="${safe}"`,
        }),
        {
          expiresIn: DOWNLOAD_TTL_S,
        },
      );
    },
    async measure(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw unavailable(err);
      }
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const hash = createHash('sha256');
        let size = 0;
        for await (const chunk of object.Body as Readable) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
        return { size, sha256: hash.digest('hex') };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw unavailable(err);
      }
    },
  };
}

/** The store answered that the object does not exist (HEAD answers a bare 404, GET `NoSuchKey`). */
function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}

function unavailable(err: unknown) {
  return apiError(
    'storage_unavailable',
    `object storage did not answer: ${err instanceof Error ? err.message : String(err)}`,
  );
}
