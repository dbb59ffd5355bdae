import { mkdir } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';

/** A running S3-compatible server on loopback (s3rver: dev and tests only, never production). */
export interface EmbeddedS3Server {
  endpoint: string;
  port: number;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /**
   * Told of each request as soon as its headers arrive (before its body), so a test can stop the server in
   * the middle of an upload. Returns a function that removes the listener.
   */
  onRequest(listener: (request: IncomingMessage, response: ServerResponse) => void): () => void;
  /**
   * Stop listening and cut every open connection, in-flight uploads included: what clients see in an
   * outage. Safe to call twice (the second call does nothing).
   */
  stop(): Promise<void>;
}

/** The `OCR_S3_*` variables that point a service at this server (path-style: s3rver has no virtual hosts). */
export function s3Env(server: EmbeddedS3Server): Record<string, string> {
  return {
    OCR_S3_ENDPOINT: server.endpoint,
    OCR_S3_BUCKET: server.bucket,
    OCR_S3_REGION: server.region,
    OCR_S3_ACCESS_KEY_ID: server.accessKeyId,
    OCR_S3_SECRET_ACCESS_KEY: server.secretAccessKey,
    OCR_S3_FORCE_PATH_STYLE: 'true',
  };
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
  const http = server.httpServer as Server;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    bucket,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    onRequest(listener) {
      http.on('request', listener);
      return () => http.off('request', listener);
    },
    stop() {
      stopping ??= (async () => {
        const closed = server.close();
        // close() alone waits for open requests; an outage cuts them.
        http.closeAllConnections();
        await closed;
      })();
      return stopping;
    },
  };
}
