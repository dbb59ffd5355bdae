import Type, { type Static } from 'typebox';
import { loadConfig } from '@ocr/runtime';

/** Every variable this process reads (docs/operator.md lists each; tests/docs.test.ts checks both ways). */
export const ApiConfigSchema = Type.Object({
  DATABASE_URL: Type.String({ minLength: 1 }),
  PORT: Type.Integer({ default: 8080, minimum: 0, maximum: 65535 }),
  HOST: Type.String({ default: '0.0.0.0' }),
  OCR_ADMIN_TOKEN: Type.Optional(
    Type.String({
      minLength: 32,
      maxLength: 500,
      description: 'bootstrap admin token (32+ characters), created at first start',
    }),
  ),
  OCR_S3_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  OCR_S3_REGION: Type.String({ default: 'us-east-1' }),
  OCR_S3_BUCKET: Type.Optional(Type.String({ minLength: 3 })),
  OCR_S3_ACCESS_KEY_ID: Type.Optional(Type.String({ minLength: 1 })),
  OCR_S3_SECRET_ACCESS_KEY: Type.Optional(Type.String({ minLength: 1 })),
  OCR_S3_FORCE_PATH_STYLE: Type.Boolean({ default: false }),
  OCR_S3_PREFIX: Type.String({ default: 'artifacts/' }),
  OCR_HEARTBEAT_TIMEOUT_S: Type.Number({ default: 15, exclusiveMinimum: 0 }),
  /** Told to workers in every claim reply (the one source of truth); default: a fifth of the timeout. */
  OCR_HEARTBEAT_INTERVAL_S: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  OCR_BODY_LIMIT_BYTES: Type.Integer({ default: 10 * 1024 * 1024, minimum: 1024 }),
  OCR_RATE_LIMIT_PER_MIN: Type.Integer({ default: 6000, minimum: 1 }),
  OCR_DB_POOL_SIZE: Type.Integer({ default: 20, minimum: 1, maximum: 500 }),
  OCR_CONSOLE_DIR: Type.Optional(Type.String()),
  OCR_CORS_ORIGINS: Type.String({
    default: '',
    description: 'comma-separated origins allowed by CORS; empty: same-origin only',
  }),
  OCR_WS_PING_S: Type.Number({ default: 20, exclusiveMinimum: 0 }),
  OCR_REQUEST_TIMEOUT_MS: Type.Integer({
    default: 30_000,
    minimum: 100,
    maximum: 600_000,
    description: 'time to receive a whole request (headers and body); 408 after',
  }),
  OCR_AUTH_CACHE_MS: Type.Integer({
    default: 5_000,
    minimum: 0,
    maximum: 60_000,
    description: 'how long a token verdict is cached; a revoked token (and its sockets) ends within it',
  }),
  OCR_AUTH_FAILURES_PER_MIN: Type.Integer({
    default: 60,
    minimum: 1,
    description: 'failed authentications per client address per minute before 429 without a lookup',
  }),
  OCR_TRUST_PROXY: Type.String({
    default: '',
    description:
      'proxies whose X-Forwarded-For is trusted: empty (none), true, a hop count, or addresses/CIDRs',
  }),
  OCR_MIGRATE: Type.Boolean({ default: true, description: 'run migrations at start' }),
});

export type ApiConfig = Static<typeof ApiConfigSchema>;

/** Parse the API's environment; every bad variable reported on its own line. */
export function loadApiConfig(env: Record<string, string | undefined> = process.env): Readonly<ApiConfig> {
  return loadConfig(ApiConfigSchema, env, [
    (c) => {
      const s3 = [c.OCR_S3_ENDPOINT, c.OCR_S3_BUCKET, c.OCR_S3_ACCESS_KEY_ID, c.OCR_S3_SECRET_ACCESS_KEY];
      const set = s3.filter(Boolean).length;
      return set === 0 || set === 4
        ? undefined
        : 'OCR_S3_*: set all of OCR_S3_ENDPOINT, OCR_S3_BUCKET, OCR_S3_ACCESS_KEY_ID, OCR_S3_SECRET_ACCESS_KEY, or none';
    },
    (c) =>
      c.OCR_HEARTBEAT_INTERVAL_S === undefined || c.OCR_HEARTBEAT_TIMEOUT_S > c.OCR_HEARTBEAT_INTERVAL_S * 2
        ? undefined
        : `OCR_HEARTBEAT_TIMEOUT_S: must exceed twice OCR_HEARTBEAT_INTERVAL_S (got ${c.OCR_HEARTBEAT_TIMEOUT_S} and ${c.OCR_HEARTBEAT_INTERVAL_S})`,
  ]);
}

/** The heartbeat period workers are told to keep (claim reply). */
export function heartbeatIntervalS(
  config: Pick<ApiConfig, 'OCR_HEARTBEAT_INTERVAL_S' | 'OCR_HEARTBEAT_TIMEOUT_S'>,
): number {
  return config.OCR_HEARTBEAT_INTERVAL_S ?? config.OCR_HEARTBEAT_TIMEOUT_S / 5;
}
