import { sql, type RawBuilder } from 'kysely';

/**
 * Full-jitter exponential backoff as a SQL interval over the run's `retry_policy`
 * (`{initial_s, factor, max_s}`): uniform in [0, min(max_s, initial_s * factor^(n-1))], per the AWS
 * architecture blog's "full jitter", which spreads a thundering herd best. `n` is a SQL expression
 * (the failure count, 1-based). Computed on the database clock by the statement that requeues.
 */
export function backoffInterval(n: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`make_interval(secs => random() * least(
    COALESCE((r.retry_policy->>'max_s')::float8, 60),
    COALESCE((r.retry_policy->>'initial_s')::float8, 2) *
      power(COALESCE((r.retry_policy->>'factor')::float8, 2), greatest(${n} - 1, 0))))`;
}

/** The cap of the backoff for failure `n` (seconds), as TypeScript: for tests and docs. */
export function backoffCapSeconds(
  policy: { initial_s: number; factor: number; max_s: number },
  n: number,
): number {
  return Math.min(policy.max_s, policy.initial_s * policy.factor ** Math.max(n - 1, 0));
}
