import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { connect, ensureBootstrapToken, migrateToLatest } from '@ocr/db';
import { createLogger, Lifecycle, type Logger } from '@ocr/runtime';
import { buildApp } from './app.js';
import { loadApiConfig, type ApiConfig } from './config.js';

export { buildApp, type AppDeps } from './app.js';
export { loadApiConfig, ApiConfigSchema, type ApiConfig } from './config.js';
export { createApiMetrics, type ApiMetrics } from './metrics.js';

/** A listening API. */
export interface StartedApi {
  app: FastifyInstance;
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Start the API from its config: connect, migrate (advisory-locked, safe with several replicas), ensure the
 * bootstrap admin token, start the LISTEN connection, listen. `close()` stops accepting, drains, releases.
 */
export async function startApi(
  config: Readonly<ApiConfig>,
  log: Logger = createLogger('api'),
): Promise<StartedApi> {
  const lifecycle = new Lifecycle(log);
  const handle = connect(config.DATABASE_URL, {
    max: config.OCR_DB_POOL_SIZE,
    applicationName: 'ocr-api',
    // The API's connection is direct (session), as LISTEN already requires: its hot statements are prepared.
    prepare: true,
    onError: (err) => log.warn({ err }, 'idle database client error'),
  });
  lifecycle.defer('database pool', () => handle.close());
  try {
    if (config.OCR_MIGRATE) await migrateToLatest(handle.db, config.DATABASE_URL);
    if (config.OCR_ADMIN_TOKEN) {
      const bootstrap = await ensureBootstrapToken(handle.db, config.OCR_ADMIN_TOKEN);
      if (bootstrap.revoked) log.warn('OCR_ADMIN_TOKEN was revoked and stays revoked; unset it');
    }
    const app = await buildApp({ db: handle.db, pool: handle.pool, config, log });
    lifecycle.defer('http', () => app.close());
    await app.listener.start();
    // A fleet reconnects at once (an API restart, a deploy): Node's default accept queue (511) overflows and
    // every dropped SYN costs its worker a retransmit of 1 s or more. Ask for the most the kernel allows
    // (it caps the number at net.core.somaxconn), as Go's net package does.
    await app.listen({ port: config.PORT, host: config.HOST, backlog: 65535 });
    const { port } = app.server.address() as AddressInfo;
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
    log.info({ port }, 'api listening');
    return { app, port, url: `http://${host}:${port}`, close: () => lifecycle.close() };
  } catch (err) {
    await lifecycle.close();
    throw err;
  }
}

/** `ocr api`: config from the environment, graceful shutdown on SIGTERM/SIGINT. */
export async function runApiProcess(env: Record<string, string | undefined> = process.env): Promise<void> {
  const config = loadApiConfig(env);
  const log = createLogger('api');
  const api = await startApi(config, log);
  const lifecycle = new Lifecycle(log);
  lifecycle.defer('api', () => api.close());
  lifecycle.installSignals(20_000);
}
