import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import Value from 'typebox/value';
import { deleteTemplate, getTemplate, listTemplates, putTemplate, putTemplateIfLatest } from '@ocr/db';
import {
  checkTemplatePlaceholders,
  ErrorResponses,
  NameParams,
  PreviewRequest,
  PreviewResponse,
  Template,
  TemplateInput,
  TemplateValidation,
  maskSecrets,
  ParamError,
  renderStep,
  STEP_KINDS,
  Step,
} from '@ocr/contracts';
import { apiError, notFound } from '../errors.js';
import { checkParamsSchema, paramsValidator } from '../run-factory.js';
import { templateToWire, type TemplateDefinition } from '../serialize.js';
import { assertTemplate, templateAllowed } from '../scope.js';

type Problem = {
  field: string;
  message: string;
  step?: string;
  line?: number;
  column?: number;
  reason?: string;
};

/**
 * Checks beyond the schema: a params schema that compiles, unique step names, and every placeholder where
 * its step renders it as data (a refusal names the step, field, line and column, and how to pass the value).
 */
function semanticProblems(input: Type.Static<typeof TemplateInput>): Problem[] {
  const problems: Problem[] = [];
  if (input.params_schema) {
    const problem = checkParamsSchema(input.params_schema);
    if (problem) problems.push({ field: 'params_schema', message: `is not a valid JSON Schema: ${problem}` });
  }
  const seen = new Set<string>();
  input.steps.forEach((step, i) => {
    if (seen.has(step.name))
      problems.push({ field: `steps[${i}].name`, message: `duplicate step name ${step.name}` });
    seen.add(step.name);
  });
  problems.push(...checkTemplatePlaceholders(input.steps, input.params_schema).problems);
  return problems;
}

/** `steps.0` → `steps[0]`: the field names the problems use. */
function fieldOf(instancePath: string): string {
  return instancePath
    .split('/')
    .filter(Boolean)
    .map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`))
    .join('')
    .replace(/^\./, '');
}

const STEP_ERRORS = /^#\/properties\/steps\/items(\/|$)/;

/** Typebox errors as problems, fields prefixed with `prefix` (`steps[0]`). */
function toProblems(errors: Iterable<ReturnType<typeof Value.Errors>[number]>, prefix = ''): Problem[] {
  const problems: Problem[] = [];
  for (const e of errors) {
    const path = [prefix, fieldOf(e.instancePath)].filter(Boolean).join('.').replace(/\.\[/g, '[');
    const extra = e.params as { requiredProperties?: string[]; additionalProperties?: string[] } | undefined;
    if (e.keyword === 'required' && extra?.requiredProperties?.length) {
      for (const name of extra.requiredProperties)
        problems.push({ field: [path, name].filter(Boolean).join('.'), message: 'is required' });
      continue;
    }
    const named = extra?.additionalProperties?.[0];
    problems.push({
      field: [path, named].filter(Boolean).join('.') || '(root)',
      message: e.keyword === 'additionalProperties' ? 'unknown field' : e.message,
    });
  }
  // An unknown field is reported twice (its `false` schema and the object's additionalProperties): keep
  // "unknown field"; a key a record refuses by its name alone (a header name with CR LF) says so.
  return problems
    .filter(
      (p) =>
        p.message !== 'schema is false' ||
        !problems.some((q) => q.field === p.field && q.message === 'unknown field'),
    )
    .map((p) => (p.message === 'schema is false' ? { ...p, message: 'is not allowed here' } : p));
}

/**
 * The schema's problems with a template, one per mistake. A step is a union of kinds whose raw errors hold
 * every kind's complaint (a shell step without `script` also "lacks image, url, server"), and typebox stops
 * after a few: each step is checked on its own against the kind it names, and a step whose kind is none of
 * them gets one line saying so.
 */
function schemaProblems(body: unknown): Problem[] {
  const problems = toProblems(
    [...Value.Errors(TemplateInput, body)].filter((e) => !STEP_ERRORS.test(e.schemaPath)),
  );
  const steps = (body as { steps?: unknown } | null)?.steps;
  if (Array.isArray(steps))
    steps.forEach((step: unknown, i) => {
      if (Value.Check(Step, step)) return;
      const kind = (step as { kind?: unknown } | null)?.kind;
      const variant = STEP_KINDS.indexOf(kind as (typeof STEP_KINDS)[number]);
      if (variant < 0) {
        problems.push({
          field: `steps[${i}].kind`,
          message: `${kind === undefined ? 'is required' : `unknown kind ${JSON.stringify(kind)}`}: one of ${STEP_KINDS.join(', ')}`,
        });
        return;
      }
      const schema = (Step as unknown as { anyOf: Parameters<typeof Value.Errors>[0][] }).anyOf[variant]!;
      const own = toProblems(Value.Errors(schema, step), `steps[${i}]`);
      problems.push(...(own.length ? own : [{ field: `steps[${i}]`, message: 'is not a valid step' }]));
    });
  // Whatever the mapping above missed, an invalid template is never called valid.
  if (problems.length === 0 && !Value.Check(TemplateInput, body))
    problems.push({ field: '(root)', message: 'does not match the template schema' });
  return problems.slice(0, 50);
}

/** The error message for a list of problems: the first one (a refused placeholder's message names its field already); `details` has them all. */
function problemMessage(first: Problem): string {
  return first.reason ? first.message : `${first.field}: ${first.message}`;
}

function definitionOf(input: Type.Static<typeof TemplateInput>): TemplateDefinition {
  return {
    params_schema: input.params_schema ?? { type: 'object' },
    default_lane: input.default_lane ?? 'A',
    ...(input.timeout_s ? { timeout_s: input.timeout_s } : {}),
    ...(input.retry ? { retry: input.retry } : {}),
    steps: input.steps as unknown as Record<string, unknown>[],
  };
}

/**
 * `If-Match` on PUT: the version the writer read (`3` or `"3"`, as an ETag). A save that would overwrite a
 * version it never saw is refused, so two writers (CI applying files, someone in the console) cannot lose
 * each other's change silently.
 */
const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({ pattern: '^(W/)?"?[1-9][0-9]{0,8}"?$', description: 'the template version read' }),
  ),
});

/** Templates: versioned runbook definitions. PUT creates a new version; runs pin the version they used. */
export async function templateRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  /** Save a version; with `expectedVersion`, only if the latest live version is still that one. */
  const save = async (input: Type.Static<typeof TemplateInput>, expectedVersion?: number) => {
    const problems = semanticProblems(input);
    if (problems.length > 0) throw apiError('validation_failed', problemMessage(problems[0]!), problems);
    const row = { name: input.name, description: input.description ?? '', definition: definitionOf(input) };
    if (expectedVersion === undefined) return templateToWire(await putTemplate(app.db, row));
    const result = await putTemplateIfLatest(app.db, row, expectedVersion);
    if ('saved' in result) return templateToWire(result.saved);
    const now = result.currentVersion === null ? 'no live version' : `v${result.currentVersion}`;
    throw apiError('conflict', `template ${input.name} has ${now}, not v${expectedVersion} (If-Match)`, {
      current_version: result.currentVersion,
    });
  };

  app.get(
    '/v1/templates',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['templates'],
        summary: 'Latest version of every template',
        response: { 200: Type.Object({ templates: Type.Array(Template) }), ...ErrorResponses },
      },
    },
    async (request) => ({
      // A token limited to templates sees only those.
      templates: (await listTemplates(app.db))
        .filter((t) => templateAllowed(request.principal!, t.name))
        .map(templateToWire),
    }),
  );

  app.post(
    '/v1/templates',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['templates'],
        summary: 'Create a template (409 if the name exists)',
        body: TemplateInput,
        response: { 201: Template, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const input = request.body;
      assertTemplate(request.principal!, input.name, 'name');
      if (await getTemplate(app.db, input.name))
        throw apiError(
          'conflict',
          `template ${input.name} exists; PUT /v1/templates/${input.name} adds a version`,
        );
      return reply.code(201).send(await save(input));
    },
  );

  /**
   * typebox's Value.Default throws on a record key outside the record's pattern (an env name like `A-B`:
   * the record's additionalProperties is the schema `false`). Such a body is invalid anyway and
   * Value.Errors names the key, so it is checked as sent.
   */
  function withSaveDefaults(body: unknown): unknown {
    try {
      return Value.Default(TemplateInput, structuredClone(body));
    } catch {
      return body;
    }
  }

  app.post(
    '/v1/templates/validate',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['templates'],
        summary: 'Validate a template without saving it (400 validation_failed listing every problem)',
        body: Type.Unknown(),
        response: { 200: TemplateValidation, ...ErrorResponses },
      },
    },
    async (request) => {
      // The defaults a save fills in (retry.max_attempts, backoff fields) first, as the body validator of
      // POST/PUT does: otherwise a template that saves fine (a backoff giving only initial_s) fails here.
      const body = withSaveDefaults(request.body);
      const problems = schemaProblems(body);
      if (problems.length === 0)
        problems.push(...semanticProblems(body as Type.Static<typeof TemplateInput>));
      // The same answer a save would give: 400 validation_failed listing every problem, so a client checks
      // a template exactly as it saves one (the first problem is the message, all of them are the details).
      if (problems.length > 0) throw apiError('validation_failed', problemMessage(problems[0]!), problems);
      return { valid: true as const, problems: [] };
    },
  );

  app.get(
    '/v1/templates/:name',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['templates'],
        summary: 'A template (latest version)',
        params: NameParams,
        response: { 200: Template, ...ErrorResponses },
      },
    },
    async (request) => {
      assertTemplate(request.principal!, request.params.name);
      const template = await getTemplate(app.db, request.params.name);
      if (!template) throw notFound('template');
      return templateToWire(template);
    },
  );

  app.put(
    '/v1/templates/:name',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['templates'],
        summary: 'Create or add a version (If-Match: the version read, else 409 conflict)',
        params: NameParams,
        headers: IfMatchHeaders,
        body: TemplateInput,
        response: { 200: Template, ...ErrorResponses },
      },
    },
    async (request) => {
      const input = request.body;
      const name = request.params.name;
      assertTemplate(request.principal!, name);
      if (input.name !== name)
        throw apiError('validation_failed', `name: must match the path (${name})`, [
          { field: 'name', message: 'must match the path' },
        ]);
      const ifMatch = (request.headers as Type.Static<typeof IfMatchHeaders>)['if-match'];
      return save(input, ifMatch === undefined ? undefined : Number(/\d+/.exec(ifMatch)![0]));
    },
  );

  app.delete(
    '/v1/templates/:name',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['templates'],
        summary: 'Retire a template (versions kept for existing runs)',
        params: NameParams,
        response: { 200: Type.Object({ deleted: Type.Boolean() }), ...ErrorResponses },
      },
    },
    async (request) => {
      assertTemplate(request.principal!, request.params.name);
      if (!(await deleteTemplate(app.db, request.params.name))) throw notFound('template');
      return { deleted: true };
    },
  );

  app.post(
    '/v1/templates/:name/preview',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['templates'],
        summary: 'Render the steps for given params (secrets masked)',
        params: NameParams,
        body: PreviewRequest,
        response: { 200: PreviewResponse, ...ErrorResponses },
      },
    },
    async (request) => {
      assertTemplate(request.principal!, request.params.name);
      const template = await getTemplate(app.db, request.params.name);
      if (!template) throw notFound('template');
      const params = structuredClone(request.body.params ?? {});
      const validate = paramsValidator(template);
      if (!validate(params)) {
        const details = (validate.errors ?? []).map((e) => ({
          field: `params${e.instancePath.replace(/\//g, '.')}`,
          message: e.message ?? 'is invalid',
        }));
        throw apiError('validation_failed', `${details[0]?.field}: ${details[0]?.message}`, details);
      }
      const def = template.definition as TemplateDefinition;
      const shown = maskSecrets(params, def.params_schema as never);
      const steps = def.steps.map((step, index) => {
        try {
          return renderStep(step, shown);
        } catch (err) {
          // The same refusal the worker would fail this step with at run time (a missing param, unsafe use).
          if (!(err instanceof ParamError)) throw err;
          const field = `steps.${index}`;
          throw apiError('validation_failed', `${field}: ${err.message}`, [
            { field, message: err.message, reason: err.code },
          ]);
        }
      });
      return { params: shown, steps };
    },
  );
}
