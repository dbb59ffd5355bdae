import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { apiError } from '../errors.js';

// eslint-disable-next-line no-control-regex
const BAD = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The path of the first string (or key) Postgres cannot store: a NUL byte or a lone surrogate. */
export function findUnstorable(value: unknown, path = 'body'): string | undefined {
  if (typeof value === 'string') return BAD.test(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findUnstorable(item, `${path}[${i}]`);
      if (found) return found;
    }
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (BAD.test(key)) return `${path}.${key.replace(BAD, '?')}`;
      const found = findUnstorable(item, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Requests carrying text Postgres cannot store are refused with a 400 naming the field (rather than
 * silently altered). Worker event appends are the exception: output is sanitised, never refused.
 */
export const textGuard = fp(async (app: FastifyInstance) => {
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined || request.routeOptions.config?.sanitizesText) return;
    const field = findUnstorable(request.body);
    if (field) throw apiError('validation_failed', `${field}: contains a NUL byte or invalid unicode`, [{ field, message: 'contains a NUL byte or invalid unicode' }]);
  });
});
