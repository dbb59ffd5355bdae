import { hostname } from 'node:os';
import Type, { type Static } from 'typebox';
import { loadConfig } from '@ocr/runtime';

const SweeperConfigSchema = Type.Object({
  DATABASE_URL: Type.String({ minLength: 1 }),
  PORT: Type.Integer({ default: 9102, minimum: 0, maximum: 65535 }),
  OCR_SWEEP_INTERVAL_S: Type.Number({ default: 5, exclusiveMinimum: 0 }),
  OCR_HEARTBEAT_INTERVAL_S: Type.Number({ default: 3, exclusiveMinimum: 0 }),
  OCR_HEARTBEAT_TIMEOUT_S: Type.Number({ default: 15, exclusiveMinimum: 0 }),
  OCR_CANCEL_GRACE_S: Type.Number({ default: 30, minimum: 0 }),
  OCR_SWEEP_BATCH: Type.Integer({ default: 500, minimum: 1, maximum: 10_000 }),
  OCR_LEADER_TTL_S: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  OCR_SWEEPER_ID: Type.String({ default: `${hostname()}:${process.pid}`, minLength: 1 }),
  OCR_LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
});

/** The sweeper's parsed configuration; `leaderTtlS` is derived (OCR_LEADER_TTL_S, else 3 sweep intervals, at least 1 s). */
export type SweeperConfig = Static<typeof SweeperConfigSchema> & { leaderTtlS: number };

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
  ]);
  return Object.freeze({ ...config, leaderTtlS: leaderTtl(config) });
}
