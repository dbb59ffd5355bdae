import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createToken, type Role } from '@ocr/db';
import { s3Env, startEmbeddedS3, type EmbeddedS3Server } from '@ocr/embedded';
import { createClient, type OcrClient } from '@ocr/client';
import { loadApiConfig, startApi, type StartedApi } from '@ocr/api';
import { createTestDatabase, type TestDatabase, type TestLike } from './database.js';

export interface Stack {
  api: StartedApi;
  apiUrl: string;
  adminToken: string;
  db: TestDatabase;
  /** The S3 server now running (replaced by `startS3()`; undefined with `s3: false`). */
  s3: EmbeddedS3Server | undefined;
  /** An S3 outage: stop the server, cutting open connections (in-flight uploads fail). */
  stopS3(): Promise<void>;
  /** End the outage: a new server on the same port over the same files (stored objects survive). */
  startS3(): Promise<void>;
  /** A client with the admin token. */
  client: OcrClient;
  /** A fresh token (and client) of a role. */
  tokenFor(role: Role): Promise<{ token: string; client: OcrClient }>;
  /** Environment for a child process (API URL, database, S3), e.g. a worker or a second API. */
  env: Record<string, string>;
}

export interface StackOptions {
  s3?: boolean;
  /** Extra API environment (e.g. OCR_HEARTBEAT_TIMEOUT_S). */
  env?: Record<string, string>;
  logLevel?: string;
}

/**
 * A real API on a free port over its own test database (and s3rver unless `s3: false`), with an admin
 * token. Torn down with the test.
 */
export async function startStack(t: TestLike, options: StackOptions = {}): Promise<Stack> {
  const db = await createTestDatabase(t);
  let s3: EmbeddedS3Server | undefined;
  let s3Dir: string | undefined;
  const env: Record<string, string> = { DATABASE_URL: db.url, ...(options.env ?? {}) };
  if (options.s3 !== false) {
    s3Dir = await mkdtemp(join(tmpdir(), 'ocr-test-s3-'));
    s3 = await startEmbeddedS3({ dir: s3Dir });
    Object.assign(env, s3Env(s3));
  }
  const adminToken = `ocr_test_admin_${randomBytes(24).toString('base64url')}`;
  const log = pino({ level: options.logLevel ?? process.env.OCR_TEST_LOG_LEVEL ?? 'silent' });
  // Workers heartbeat at the interval the API tells them: fast in tests, so cancels are seen quickly.
  const api = await startApi(
    loadApiConfig({
      OCR_HEARTBEAT_INTERVAL_S: '0.5',
      ...env,
      PORT: '0',
      HOST: '127.0.0.1',
      OCR_ADMIN_TOKEN: adminToken,
      OCR_MIGRATE: 'false',
    }),
    log,
  );
  t.teardown(async () => {
    await api.close();
    // Whichever server runs now (a test may have restarted it); stopping a stopped one does nothing.
    await stack.s3?.stop();
    if (s3Dir) await rm(s3Dir, { recursive: true, force: true });
  });
  const stack: Stack = {
    api,
    apiUrl: api.url,
    adminToken,
    db,
    s3,
    async stopS3() {
      if (!stack.s3) throw new Error('this stack has no S3 (s3: false)');
      await stack.s3.stop();
    },
    async startS3() {
      const current = stack.s3;
      if (!current || !s3Dir) throw new Error('this stack has no S3 (s3: false)');
      await current.stop();
      stack.s3 = await startEmbeddedS3({ dir: s3Dir, port: current.port, bucket: current.bucket });
    },
    client: createClient({ baseUrl: api.url, token: adminToken }),
    env: { ...env, OCR_API_URL: api.url },
    tokenFor: async (role: Role) => {
      const { token } = await createToken(db.db, { name: `test-${role}`, role });
      return { token, client: createClient({ baseUrl: api.url, token }) };
    },
  };
  return stack;
}
