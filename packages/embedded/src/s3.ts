import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';

/** A running S3-compatible server on loopback (s3rver: dev and tests only, never production). */
export interface EmbeddedS3Server {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

/** Start s3rver on loopback with one bucket, files under `dir`. `S3RVER` is its fixed credential pair. */
export async function startEmbeddedS3(options: {
  dir: string;
  port?: number;
  bucket?: string;
}): Promise<EmbeddedS3Server> {
  await mkdir(options.dir, { recursive: true });
  const bucket = options.bucket ?? 'ocr-artifacts';
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    directory: options.dir,
    silent: true,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const address = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    stop: () => server.close(),
  };
}
