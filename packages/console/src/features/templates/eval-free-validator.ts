import { Validator, type OutputUnit, type Schema } from '@cfworker/json-schema';
import {
  createErrorHandler,
  getDefaultFormState,
  toErrorSchema,
  unwrapErrorHandler,
  validationDataMerge,
  type CustomValidator,
  type ErrorTransformer,
  type RJSFSchema,
  type RJSFValidationError,
  type UiSchema,
  type ValidationData,
  type ValidatorType,
} from '@rjsf/utils';

/**
 * The run form's validator, without code generation: @cfworker/json-schema interprets the schema instead of
 * compiling it to functions like Ajv, so the console runs under a CSP without `'unsafe-eval'`. Params schemas
 * are written by operators at run time, so they cannot be precompiled at build time; the API validates
 * params again on create (this is for the form's live feedback and anyOf/oneOf matching).
 */

type Data = Record<string, unknown>;

// Keywords whose error only says that a subschema failed; the failing keyword inside reports it itself.
const SUMMARY = new Set([
  'properties',
  'items',
  'prefixItems',
  'allOf',
  '$ref',
  'additionalItems',
  'contains',
]);

/** A schema's validator, cached per schema object (rjsf passes the same objects again and again). */
const validators = new WeakMap<object, Validator>();

function validatorFor(schema: RJSFSchema): Validator {
  let validator = validators.get(schema);
  if (!validator) {
    // The library annotates the schema it is given: hand it a copy, never the form's own (possibly frozen) one.
    validator = new Validator(structuredClone(schema) as Schema, '2020-12', false);
    validators.set(schema, validator);
  }
  return validator;
}

/** A library error as rjsf's error shape: `.a.b` paths, a required property named as the field. */
function toRjsfError(unit: OutputUnit): RJSFValidationError {
  let property = unit.instanceLocation.replace(/^#/, '').replace(/\//g, '.');
  const missing = unit.keyword === 'required' ? /property "([^"]+)"/.exec(unit.error)?.[1] : undefined;
  if (missing) property = `${property}.${missing}`;
  const message = missing ? 'is a required property' : unit.error.replace(/^Instance /, '');
  return {
    name: unit.keyword,
    property,
    message,
    params: missing ? { missingProperty: missing } : {},
    stack: `${property} ${message}`.trim(),
    schemaPath: unit.keywordLocation,
  };
}

function rawErrors(schema: RJSFSchema, data: unknown): RJSFValidationError[] {
  const result = validatorFor(schema).validate(data);
  if (result.valid) return [];
  const seen = new Set<string>();
  return result.errors
    .filter((unit) => !SUMMARY.has(unit.keyword))
    .map(toRjsfError)
    .filter((e) => !seen.has(e.stack) && !!seen.add(e.stack));
}

/** rjsf's ValidatorType over the interpreting validator. */
export const evalFreeValidator: ValidatorType<Data, RJSFSchema> = {
  validateFormData(
    formData: Data | undefined,
    schema: RJSFSchema,
    customValidate?: CustomValidator<Data, RJSFSchema>,
    transformErrors?: ErrorTransformer<Data, RJSFSchema>,
    uiSchema?: UiSchema<Data, RJSFSchema>,
  ): ValidationData<Data> {
    let errors = rawErrors(schema, formData ?? {});
    if (transformErrors) errors = transformErrors(errors, uiSchema);
    const errorSchema = toErrorSchema<Data>(errors);
    if (!customValidate) return { errors, errorSchema };
    const full = getDefaultFormState<Data, RJSFSchema>(
      evalFreeValidator,
      schema,
      formData,
      schema,
      true,
    ) as Data;
    const handler = customValidate(full, createErrorHandler<Data>(full), uiSchema, errorSchema);
    return validationDataMerge<Data>({ errors, errorSchema }, unwrapErrorHandler<Data>(handler));
  },

  isValid(schema: RJSFSchema, formData: Data | undefined, rootSchema: RJSFSchema): boolean {
    // A subschema may point into the root's definitions: validate it with them alongside.
    const withDefs =
      schema === rootSchema
        ? schema
        : ({ ...schema, $defs: rootSchema.$defs, definitions: rootSchema.definitions } as RJSFSchema);
    try {
      return validatorFor(withDefs).validate(formData).valid;
    } catch {
      return false;
    }
  },

  rawValidation<Result>(schema: RJSFSchema, formData?: Data) {
    try {
      return { errors: rawErrors(schema, formData) as Result[] };
    } catch (err) {
      return { validationError: err as Error };
    }
  },
};
