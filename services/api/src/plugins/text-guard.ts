import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { apiError } from '../errors.js';

// eslint-disable-next-line no-control-regex
const BAD = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The path of the first string (or key) Postgres cannot store: a NUL byte or a lone surrogate.
 * Iterative, so no nesting depth can overflow the stack (the body parser bounds depth too).
 */
export function findUnstorable(value: unknown, root = 'body'): string | undefined {
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [item, path] = stack.pop()!;
    if (typeof item === 'string') {
      if (BAD.test(item)) return path;
    } else if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) stack.push([item[i], `${path}[${i}]`]);
    } else if (item && typeof item === 'object') {
      const entries = Object.entries(item);
      for (const [key] of entries) if (BAD.test(key)) return `${path}.${key.replace(BAD, '?')}`;
      for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i]![1], `${path}.${entries[i]![0]}`]);
    }
  }
  return undefined;
}

/**
 * Requests carrying text Postgres cannot store — in the body, the query string or the path — are refused
 * with a 400 naming the field (rather than silently altered, or failing in the database as a 500). Worker
 * event appends are the exception for the body: output is sanitised, never refused.
 */
export const textGuard = fp(async (app: FastifyInstance) => {
  app.addHook('preValidation', async (request) => {
    const field =
      findUnstorable(request.params, 'params') ??
      findUnstorable(request.query, 'query') ??
      (request.body === undefined || request.routeOptions.config?.sanitizesText
        ? undefined
        : findUnstorable(request.body));
    if (field)
      throw apiError('validation_failed', `${field}: contains a NUL byte or invalid unicode`, [
        { field, message: 'contains a NUL byte or invalid unicode' },
      ]);
  });
});
