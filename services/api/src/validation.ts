import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

type AjvInstance = Ajv;

function make(coerce: boolean): AjvInstance {
  // strict: false — TypeBox schemas carry descriptive keywords Ajv does not know; they are harmless.
  const ajv = new Ajv({ allErrors: false, coerceTypes: coerce ? 'array' : false, useDefaults: true, removeAdditional: false, strict: false });
  (addFormats as unknown as (a: AjvInstance) => void)(ajv);
  return ajv;
}

const bodyAjv = make(false);
const queryAjv = make(true);

/**
 * Route validation: bodies are checked strictly (no type coercion, unknown fields rejected, never
 * silently removed); query strings and path params coerce, since they arrive as text.
 */
export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? bodyAjv : queryAjv;
  return ajv.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
};

/** Ajv for user-supplied JSON Schemas (template params, draft 2020-12), with formats. */
export function createParamsAjv() {
  const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false });
  (addFormats as unknown as (a: unknown) => void)(ajv);
  return ajv;
}
