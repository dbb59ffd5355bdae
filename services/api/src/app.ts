import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import cors from '@fastify/cors';
import helmet from 'helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fastifyStatic from '@fastify/static';
import { CONSOLE_DIST } from '@ocr/console';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from '@ocr/db';
import type { Logger } from '@ocr/runtime';
import type { ApiConfig } from './config.js';
import { auth } from './plugins/auth.js';
import { errorHandler } from './plugins/error-handler.js';
import { jsonBody } from './plugins/json-body.js';
import { textGuard } from './plugins/text-guard.js';
import { createApiMetrics, type ApiMetrics } from './metrics.js';
import { Listener } from './realtime/listener.js';
import { ClaimWaiters } from './realtime/claim-waiters.js';
import { Hub } from './realtime/hub.js';
import { createStorage, type Storage } from './storage.js';
import { validatorCompiler } from './validation.js';
import { openApiOptions } from './openapi.js';
import { healthRoutes } from './routes/health.js';
import { runRoutes } from './routes/runs.js';
import { runCompareRoutes } from './routes/run-compare.js';
import { workerRoutes } from './routes/worker.js';
import { templateRoutes } from './routes/templates.js';
import { adminRoutes } from './routes/admin.js';
import { artifactRoutes } from './routes/artifacts.js';
import { streamRoutes } from './routes/stream.js';
import { mcpRoutes } from './routes/mcp.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Kysely<Database>;
    pool: pg.Pool;
    config: Readonly<ApiConfig>;
    listener: Listener;
    waiters: ClaimWaiters;
    hub: Hub;
    storage: Storage | undefined;
    metrics: ApiMetrics;
    /** Aborts when the app starts closing: parked long-polls return at once. */
    closing: AbortSignal;
  }
}

export interface AppDeps {
  db: Kysely<Database>;
  pool: pg.Pool;
  config: Readonly<ApiConfig>;
  log: Logger;
}

/** A client's `X-Request-Id` is kept when it is a plain token (it lands in logs); otherwise a fresh UUID. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** `OCR_TRUST_PROXY` as Fastify takes it: nothing trusted unless configured. */
function trustProxy(value: string): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return (_address, hop) => hop < Number(value);
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/** Origins the console's images may come from besides its own: presigned object-storage URLs. */
function imageSources(config: Readonly<ApiConfig>): string[] {
  const sources = ["'self'", 'data:', 'blob:', 'https:'];
  if (config.OCR_S3_ENDPOINT) sources.push(new URL(config.OCR_S3_ENDPOINT).origin);
  return sources;
}

/** Where the console's production build is (or will be, once built). */
function consoleDir(config: Readonly<ApiConfig>): string {
  return config.OCR_CONSOLE_DIR ?? CONSOLE_DIST;
}

/**
 * Hashed assets never change under their name: browsers keep them for a year without asking. Everything
 * else (index.html, which names the current hashes) is revalidated on every load, so a rebuilt console
 * reaches browsers at once.
 */
function consoleCacheControl(path: string): string {
  return /[\\/]assets[\\/][^\\/]+-[\w-]{8}\.\w+(?:\.(?:br|gz))?$/.test(path)
    ? 'public, max-age=31536000, immutable'
    : 'no-cache';
}

const CONSOLE_NOT_BUILT =
  '<h1>Ops Control Room</h1><p>The console is not built: run <code>npm run build -w @ocr/console</code>. API docs: <a href="/docs">/docs</a></p>';

/**
 * Build the API (no listen): plugins for errors, auth, rate limits, OpenAPI, realtime; the route
 * plugins; the console as static files. `startApi` (what `ocr api`, `ocr dev` and the test stack use) adds
 * the listener and listens.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.log,
    bodyLimit: config.OCR_BODY_LIMIT_BYTES,
    // A whole request (headers and body) must arrive within the timeout: a body trickled a byte at a
    // time is cut off with a 408 instead of holding a socket and a parser for minutes.
    requestTimeout: config.OCR_REQUEST_TIMEOUT_MS,
    http: {
      headersTimeout: Math.min(config.OCR_REQUEST_TIMEOUT_MS, 10_000),
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(config.OCR_REQUEST_TIMEOUT_MS / 4)),
    },
    requestIdHeader: false,
    genReqId: requestId,
    trustProxy: trustProxy(config.OCR_TRUST_PROXY),
    // Errors the router raises before any route or hook (a path that is not valid percent-encoded UTF-8,
    // a path parameter over 100 characters) get the same JSON shape as every other refusal.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const field = 'path';
      const message =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? 'a path segment is longer than 100 characters'
          : 'is not valid percent-encoded UTF-8';
      void reply.code(error.statusCode ?? 400).send({
        error: {
          code: 'validation_failed',
          message: `${field}: ${message}`,
          details: [{ field, message }],
        },
      });
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);

  const metrics = createApiMetrics();
  const listener = new Listener(config.DATABASE_URL, deps.log.child({ component: 'listener' }), deps.pool);
  listener.on('reconnect', () => metrics.listenReconnects.inc());
  app.decorate('db', deps.db);
  app.decorate('pool', deps.pool);
  app.decorate('config', config);
  app.decorate('metrics', metrics);
  app.decorate('listener', listener);
  app.decorate('waiters', new ClaimWaiters(listener));
  app.decorate('hub', new Hub(deps.db, listener, deps.log.child({ component: 'hub' })));
  app.decorate('storage', createStorage(config));
  const closing = new AbortController();
  app.decorate('closing', closing.signal);
  app.addHook('preClose', async () => closing.abort());
  app.addHook('onClose', async () => {
    app.hub.close();
    await listener.stop();
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  await app.register(errorHandler);
  await app.register(jsonBody);
  // Security headers on every answer, refusals included (first among the hooks: an answer auth or CORS ends
  // early carries them too). helmet's middleware is built once here: @fastify/helmet built it anew for every
  // request (its CSP directives parsed each time: ~10 % of the API's JavaScript per small append in the
  // fan-out profile, bench/NOTES.md). Same options, same headers.
  const securityHeaders = helmet({
    // The console is a static build: its own scripts and styles (React sets style attributes), its own
    // API and stream, images inline or from presigned storage URLs; nobody may frame it.
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        // Scripts only from this origin: no inline script, no eval (the run form validates params with an
        // interpreting JSON Schema validator, not Ajv's generated code; tests/console/csp.test.ts).
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: imageSources(config),
        connectSrc: ["'self'"],
        fontSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
    // HSTS only means something over TLS, which a proxy in front terminates; harmless on plain HTTP.
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
  });
  app.addHook('onRequest', (request, reply, done) =>
    securityHeaders(request.raw, reply.raw, (err) => done(err as Error | undefined)),
  );
  // Before auth: its catch-all OPTIONS route answers preflights, which carry no token by design.
  await app.register(cors, {
    origin: config.OCR_CORS_ORIGINS ? config.OCR_CORS_ORIGINS.split(',').map((o) => o.trim()) : false,
  });
  await app.register(auth);
  await app.register(textGuard);
  await app.register(rateLimit, {
    hook: 'preHandler',
    global: true,
    timeWindow: 60_000,
    // Per token, not per address: many workers share a NAT; the worker protocol gets a higher budget.
    // Requests without a token (public routes) are limited per address; failed authentications have their
    // own, smaller budget in the auth plugin.
    keyGenerator: (request) => request.principal?.tokenId ?? `ip:${request.ip}`,
    max: (request) =>
      request.principal?.role === 'worker'
        ? config.OCR_RATE_LIMIT_PER_MIN * 100
        : config.OCR_RATE_LIMIT_PER_MIN,
    errorResponseBuilder: () => ({
      statusCode: 429,
      error: { code: 'rate_limited', message: 'too many requests; retry later' },
    }),
  });
  await app.register(swagger, openApiOptions);
  await app.register(async (scope) => {
    scope.decorate('publicScope', true);
    await scope.register(swaggerUi, { routePrefix: '/docs' });
  });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  await app.register(healthRoutes);
  await app.register(runRoutes);
  await app.register(runCompareRoutes);
  await app.register(workerRoutes);
  await app.register(templateRoutes);
  await app.register(adminRoutes);
  await app.register(artifactRoutes);
  await app.register(streamRoutes);
  await app.register(mcpRoutes);

  // The console's files are looked up per request (wildcard), not listed at start: a console built or
  // rebuilt (new hashed asset names) while the API runs is served without a restart.
  const dir = consoleDir(config);
  // Static files cannot declare roles: their scope is marked public (and '/' shares it for sendFile).
  await app.register(async (scope) => {
    scope.decorate('publicScope', true);
    await scope.register(fastifyStatic, {
      root: dir,
      prefix: '/',
      index: false,
      wildcard: true,
      // The build writes .br and .gz next to each file: compressed once, never per request.
      preCompressed: true,
      setHeaders: (reply, path) => void reply.header('cache-control', consoleCacheControl(path)),
    });
    scope.get('/', { config: { role: 'public' }, schema: { hide: true } }, async (_req, reply) =>
      existsSync(resolve(dir, 'index.html'))
        ? reply.sendFile('index.html')
        : reply.type('text/html').send(CONSOLE_NOT_BUILT),
    );
  });
  return app as unknown as FastifyInstance;
}
