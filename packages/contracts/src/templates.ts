import Type, { type Static } from 'typebox';
import { ArtifactKind, LaneName, TemplateName, Timestamp } from './common.js';
import { DockerStep, HttpStep, McpStep, NoopStep, ShellStep, StepEnv } from './steps.js';

const strict = { additionalProperties: false } as const;
const Env = StepEnv;
const StepArtifact = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 1000 }),
    kind: ArtifactKind,
    name: Type.Optional(Type.String({ maxLength: 200 })),
  },
  strict,
);

/** Fields every step kind shares. */
const base = {
  name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9 _.-]*$' }),
  timeout_s: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
  env: Type.Optional(Env),
  artifacts: Type.Optional(Type.Array(StepArtifact, { maxItems: 50 })),
};

export const SpecKitGenerateStep = Type.Object(
  {
    ...base,
    kind: Type.Literal('spec-kit.generate'),
    input: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  strict,
);
export const SpecKitValidateStep = Type.Object(
  {
    ...base,
    kind: Type.Literal('spec-kit.validate'),
    input: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  strict,
);

export const Step = Type.Union(
  [ShellStep, DockerStep, HttpStep, McpStep, NoopStep, SpecKitGenerateStep, SpecKitValidateStep],
  { $id: 'Step' },
);
export type Step = Static<typeof Step>;
export const STEP_KINDS = [
  'shell',
  'docker',
  'http',
  'mcp',
  'noop',
  'spec-kit.generate',
  'spec-kit.validate',
] as const;

export const RetryPolicy = Type.Object(
  {
    max_attempts: Type.Integer({ minimum: 1, maximum: 100, default: 1 }),
    backoff: Type.Optional(
      Type.Object(
        {
          initial_s: Type.Number({ minimum: 0, maximum: 86_400, default: 2 }),
          factor: Type.Number({ minimum: 1, maximum: 10, default: 2 }),
          max_s: Type.Number({ minimum: 0, maximum: 86_400, default: 60 }),
        },
        strict,
      ),
    ),
  },
  strict,
);

/** A template as authored (the DSL of the brief): what POST/PUT /v1/templates take. */
export const TemplateInput = Type.Object(
  {
    name: TemplateName,
    description: Type.Optional(Type.String({ maxLength: 5000 })),
    params_schema: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'JSON Schema (draft 2020-12) for params' }),
    ),
    default_lane: Type.Optional(LaneName),
    timeout_s: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 86_400 })),
    retry: Type.Optional(RetryPolicy),
    steps: Type.Array(Step, { minItems: 1, maxItems: 100 }),
  },
  { ...strict, $id: 'TemplateInput' },
);
export type TemplateInput = Static<typeof TemplateInput>;

export const Template = Type.Object(
  {
    name: Type.String(),
    version: Type.Integer(),
    description: Type.String(),
    params_schema: Type.Record(Type.String(), Type.Unknown()),
    default_lane: Type.String(),
    timeout_s: Type.Union([Type.Integer(), Type.Null()]),
    retry: RetryPolicy,
    steps: Type.Array(Type.Unknown()),
    created_at: Timestamp,
  },
  { $id: 'Template' },
);
export type Template = Static<typeof Template>;

/**
 * One problem with a template: the `details[]` items of the `400 validation_failed` answer of
 * `POST /v1/templates`, `PUT /v1/templates/:name` and `POST /v1/templates/validate`.
 */
export const TemplateProblem = Type.Object({
  field: Type.String(),
  message: Type.String(),
  /** For a refused placeholder: the step's name, the line and column in the field, and `reason: unsafe_placeholder`. */
  step: Type.Optional(Type.String()),
  line: Type.Optional(Type.Integer()),
  column: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
});
export type TemplateProblem = Static<typeof TemplateProblem>;

/** The 200 answer of `POST /v1/templates/validate`: only a valid template gets one (an invalid one is a 400). */
export const TemplateValidation = Type.Object({
  valid: Type.Literal(true),
  problems: Type.Array(TemplateProblem, { maxItems: 0 }),
});
export const PreviewRequest = Type.Object(
  { params: Type.Optional(Type.Record(Type.String(), Type.Unknown())) },
  strict,
);
export const PreviewResponse = Type.Object({
  steps: Type.Array(Type.Unknown()),
  params: Type.Record(Type.String(), Type.Unknown()),
});
