import { hostname } from 'node:os';
import Type, { type Static } from 'typebox';
import { loadConfig } from '@ocr/runtime';

/** Every variable this process reads (docs/operator.md lists each; tests/docs.test.ts checks both ways). */
export const SweeperConfigSchema = Type.Object({
  DATABASE_URL: Type.String({ minLength: 1 }),
  PORT: Type.Integer({ default: 9102, minimum: 0, maximum: 65535 }),
  OCR_SWEEP_INTERVAL_S: Type.Number({ default: 5, exclusiveMinimum: 0 }),
  OCR_HEARTBEAT_INTERVAL_S: Type.Number({ default: 3, exclusiveMinimum: 0 }),
  OCR_HEARTBEAT_TIMEOUT_S: Type.Number({ default: 15, exclusiveMinimum: 0 }),
  OCR_CANCEL_GRACE_S: Type.Number({ default: 30, minimum: 0 }),
  OCR_SWEEP_BATCH: Type.Integer({ default: 500, minimum: 1, maximum: 10_000 }),
  OCR_LEADER_TTL_S: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  // Retention (docs/operator.md): finished runs older than this many days are deleted with their events,
  // steps and artifacts (S3 objects too) by the leader, in small batches. 0 keeps everything.
  OCR_RETENTION_DAYS: Type.Number({ default: 0, minimum: 0 }),
  // Per-lane overrides, `LANE=DAYS` separated by commas (e.g. `A=7,audit=0`).
  OCR_RETENTION_LANE_DAYS: Type.String({
    default: '',
    pattern:
      '^(|[A-Za-z0-9][A-Za-z0-9_.-]{0,62}=\\d+(\\.\\d+)?(,[A-Za-z0-9][A-Za-z0-9_.-]{0,62}=\\d+(\\.\\d+)?)*)$',
  }),
  OCR_RETENTION_INTERVAL_S: Type.Number({ default: 300, minimum: 0 }),
  OCR_RETENTION_BATCH_RUNS: Type.Integer({ default: 100, minimum: 1, maximum: 10_000 }),
  OCR_RETENTION_BATCH_EVENTS: Type.Integer({ default: 5000, minimum: 1, maximum: 100_000 }),
  // The artifact bucket, to delete the objects of expired runs (all four or none, like the API's).
  OCR_S3_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  OCR_S3_REGION: Type.String({ default: 'us-east-1' }),
  OCR_S3_BUCKET: Type.Optional(Type.String({ minLength: 3 })),
  OCR_S3_ACCESS_KEY_ID: Type.Optional(Type.String({ minLength: 1 })),
  OCR_S3_SECRET_ACCESS_KEY: Type.Optional(Type.String({ minLength: 1 })),
  OCR_S3_FORCE_PATH_STYLE: Type.Boolean({ default: false }),
  OCR_SWEEPER_ID: Type.String({ default: `${hostname()}:${process.pid}`, minLength: 1 }),
  OCR_LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
});

/**
 * The sweeper's parsed configuration; derived: `leaderTtlS` (OCR_LEADER_TTL_S, else 3 sweep intervals, at
 * least 1 s) and `retentionLaneDays` (OCR_RETENTION_LANE_DAYS as a map).
 */
export type SweeperConfig = Static<typeof SweeperConfigSchema> & {
  leaderTtlS: number;
  retentionLaneDays: Record<string, number>;
};

function laneDays(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pair of text.split(',').filter(Boolean)) {
    const [lane, days] = pair.split('=');
    out[lane!] = Number(days);
  }
  return out;
}

/** The leader lease outlives a few sweep intervals, so one slow renewal does not hand leadership over. */
function leaderTtl(config: Static<typeof SweeperConfigSchema>): number {
  return config.OCR_LEADER_TTL_S ?? Math.max(3 * config.OCR_SWEEP_INTERVAL_S, 1);
}

/**
 * Parse the sweeper's environment once: every bad variable on its own line, then cross-field rules (the
 * heartbeat timeout must exceed the heartbeat interval; the leader TTL must exceed the sweep interval, or the
 * leader would lose its lease between two renewals).
 */
export function loadSweeperConfig(
  env: Record<string, string | undefined> = process.env,
): Readonly<SweeperConfig> {
  const config = loadConfig(SweeperConfigSchema, env, [
    (c) =>
      c.OCR_HEARTBEAT_TIMEOUT_S > c.OCR_HEARTBEAT_INTERVAL_S
        ? undefined
        : `OCR_HEARTBEAT_TIMEOUT_S: must exceed OCR_HEARTBEAT_INTERVAL_S (got ${c.OCR_HEARTBEAT_TIMEOUT_S} and ${c.OCR_HEARTBEAT_INTERVAL_S})`,
    (c) =>
      leaderTtl(c) > c.OCR_SWEEP_INTERVAL_S
        ? undefined
        : `OCR_LEADER_TTL_S: must exceed OCR_SWEEP_INTERVAL_S (got ${leaderTtl(c)} and ${c.OCR_SWEEP_INTERVAL_S})`,
    (c) => {
      const s3 = [c.OCR_S3_ENDPOINT, c.OCR_S3_BUCKET, c.OCR_S3_ACCESS_KEY_ID, c.OCR_S3_SECRET_ACCESS_KEY];
      return s3.every((v) => v === undefined) || s3.every((v) => v !== undefined)
        ? undefined
        : 'OCR_S3_*: set all of OCR_S3_ENDPOINT, OCR_S3_BUCKET, OCR_S3_ACCESS_KEY_ID, OCR_S3_SECRET_ACCESS_KEY, or none';
    },
  ]);
  return Object.freeze({
    ...config,
    leaderTtlS: leaderTtl(config),
    retentionLaneDays: laneDays(config.OCR_RETENTION_LANE_DAYS),
  });
}
