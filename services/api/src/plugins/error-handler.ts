import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { OcrError } from '@ocr/runtime';

interface ValidationIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** A field path a human can act on: `body.runs[3].params`, `query.limit`. */
function fieldOf(issue: ValidationIssue, part: string): string {
  const path = (issue.instancePath ?? '')
    .split('/')
    .filter(Boolean)
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`))
    .join('');
  const extra = issue.params?.missingProperty ?? issue.params?.additionalProperty;
  return `${part}${path}${extra ? `.${String(extra)}` : ''}`;
}

/** Invalid text representation, datetime format/overflow, numeric out of range, bad unicode, too deep. */
const BAD_VALUE = new Set(['22P02', '22007', '22008', '22003', '22021', '22P05', '54001']);
const DB_DOWN = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  '53300',
]);

/**
 * One error handler for the whole API: every non-2xx body is `{"error":{"code","message","details"?}}`,
 * validation problems name the field, and no stack trace ever reaches a client.
 */
export const errorHandler = fp(async (app: FastifyInstance) => {
  app.setErrorHandler(
    (err: FastifyError & { validationContext?: string; cause?: unknown }, request, reply) => {
      if (err.validation) {
        const part = err.validationContext ?? 'body';
        const details = (err.validation as ValidationIssue[]).map((issue) => {
          const field = fieldOf(issue, part);
          const message =
            issue.keyword === 'additionalProperties'
              ? 'unknown field'
              : issue.keyword === 'required'
                ? 'is required'
                : (issue.message ?? 'is invalid');
          return { field, message };
        });
        const first = details[0];
        return reply.code(400).send({
          error: {
            code: 'validation_failed',
            message: first ? `${first.field}: ${first.message}` : 'invalid request',
            details,
          },
        });
      }
      if (err instanceof OcrError) {
        if (err.status >= 500) request.log.error({ err }, 'request failed');
        return reply.code(err.status).send({
          error: {
            code: err.code,
            message: err.message,
            ...(err.details !== undefined ? { details: err.details } : {}),
          },
        });
      }
      switch (err.code) {
        case 'FST_ERR_CTP_BODY_TOO_LARGE':
          return reply
            .code(413)
            .send({ error: { code: 'payload_too_large', message: 'request body is too large' } });
        case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
          return reply
            .code(415)
            .send({ error: { code: 'unsupported_media_type', message: 'send application/json' } });
        case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        case 'FST_ERR_CTP_INVALID_JSON_BODY':
          return reply.code(400).send({
            error: {
              code: 'validation_failed',
              message: 'body: is not valid JSON',
              details: [{ field: 'body', message: 'is not valid JSON' }],
            },
          });
      }
      if (err instanceof SyntaxError || err.statusCode === 400) {
        return reply
          .code(400)
          .send({ error: { code: 'validation_failed', message: `body: ${err.message}` } });
      }
      if (err.statusCode === 429) {
        return reply
          .code(429)
          .send({ error: { code: 'rate_limited', message: 'too many requests; retry later' } });
      }
      const pgCode = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
      if (
        (pgCode && DB_DOWN.has(pgCode)) ||
        /Connection terminated|timeout exceeded when trying to connect/i.test(err.message)
      ) {
        request.log.warn({ err }, 'database unavailable');
        return reply
          .code(503)
          .send({ error: { code: 'db_unavailable', message: 'the database is unavailable; retry later' } });
      }
      // Defence in depth behind the schemas: a value Postgres cannot take (bad format, out of range, too deep).
      if (pgCode && BAD_VALUE.has(pgCode)) {
        return reply
          .code(400)
          .send({ error: { code: 'validation_failed', message: 'a value has an invalid format' } });
      }
      request.log.error({ err }, 'unhandled error');
      return reply.code(500).send({ error: { code: 'internal', message: 'internal error' } });
    },
  );

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` },
    });
  });
});
