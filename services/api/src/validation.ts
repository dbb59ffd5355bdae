import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { RE2JS } from 're2js';

type AjvInstance = Ajv;

function make(coerce: boolean): AjvInstance {
  // strict: false — TypeBox schemas carry descriptive keywords Ajv does not know; they are harmless.
  const ajv = new Ajv({
    allErrors: false,
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
  });
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

/**
 * The regular-expression engine for user-supplied schemas (`pattern`, `patternProperties`): RE2, whose
 * matching time is linear in the input whatever the pattern, so no params schema (`^(a+)+$`) can stall
 * the event loop. Patterns RE2 cannot run in linear time (backreferences, lookaround) fail to compile, and
 * the template is refused when it is saved.
 */
function linearRegExp(pattern: string, flags: string): { test(input: string): boolean; toString(): string } {
  const re = RE2JS.compile(pattern);
  // Ajv keys compiled patterns by toString(), as it would a RegExp: without it every pattern is one.
  return { test: (input: string) => re.test(input), toString: () => `/${pattern}/${flags}` };
}
linearRegExp.code = 'linearRegExp';

/** Ajv for user-supplied JSON Schemas (template params, draft 2020-12), with formats and RE2 patterns. */
export function createParamsAjv() {
  const ajv = new Ajv2020({
    allErrors: true,
    useDefaults: true,
    strict: false,
    coerceTypes: false,
    code: { regExp: linearRegExp },
  });
  (addFormats as unknown as (a: unknown) => void)(ajv);
  return ajv;
}
