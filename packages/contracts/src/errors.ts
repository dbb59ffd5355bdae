import Type, { type Static } from 'typebox';

/** Every error code the API answers with, and its HTTP status. Stable: clients switch on these. */
export const ERROR_CODES = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  out_of_scope: 403,
  not_found: 404,
  conflict: 409,
  idempotency_conflict: 409,
  lease_lost: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  db_unavailable: 503,
  storage_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The body of every non-2xx answer. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({
        description: 'machine-readable, snake_case; see docs/errors.md',
        enum: Object.keys(ERROR_CODES),
      }),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: 'Error', description: 'Error answer' },
);
export type ErrorBody = Static<typeof ErrorBody>;

/**
 * The error answers of every route, for its `response` map (and so the OpenAPI document): one shared
 * schema, not a map per route file.
 */
export const ErrorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
} as const;
