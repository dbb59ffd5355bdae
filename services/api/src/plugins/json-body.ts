import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { apiError } from '../errors.js';

import { MAX_JSON_DEPTH, jsonDepthExceeds } from '@ocr/contracts';

/**
 * The JSON body parser: Fastify's own (prototype-poisoning checks included) behind a nesting-depth limit,
 * so recursive code further on (schema validation, JSONB, serialisation) never meets a body deep enough
 * to overflow its stack.
 */
export const jsonBody = fp(async (app: FastifyInstance) => {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (request: FastifyRequest, body: string | Buffer, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      // Routes that carry what a step printed clean deep JSON instead (cut at the same depth, without
      // recursion: @ocr/contracts sanitizeJson); JSON.parse itself is not recursive.
      if (!request.routeOptions.config?.sanitizesText && jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
        done(
          apiError('validation_failed', `body: nested deeper than ${MAX_JSON_DEPTH} levels`, [
            { field: 'body', message: `nested deeper than ${MAX_JSON_DEPTH} levels` },
          ]),
          undefined,
        );
        return;
      }
      parse(request, text, done);
    },
  );
});
