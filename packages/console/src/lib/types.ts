import type { Static } from 'typebox';
import type {
  Artifact,
  CreateRun,
  Lane,
  Run,
  RunDetail,
  Template,
  WhoAmI,
  WorkerInfo,
  PreviewResponse,
  TemplateInput,
  Step,
} from '@ocr/contracts';
import type { StreamEvent } from '@ocr/client';

/** Wire types, taken from the contracts so the console and the API cannot drift apart. */
export type RunT = Static<typeof Run>;
export type RunDetailT = Static<typeof RunDetail>;
export type CreateRunT = Static<typeof CreateRun>;
export type LaneT = Static<typeof Lane>;
export type ArtifactT = Static<typeof Artifact>;
export type TemplateT = Static<typeof Template>;
export type TemplateInputT = Static<typeof TemplateInput>;
export type StepT = Static<typeof Step>;
export type StepKind = StepT['kind'];
export type WhoAmIT = Static<typeof WhoAmI>;
export type WorkerT = Static<typeof WorkerInfo>;
export type PreviewT = Static<typeof PreviewResponse>;
export type EventT = StreamEvent;
export type Role = WhoAmIT['role'];

/** Every step kind the API accepts, in the order the editor offers them. */
export const STEP_KINDS = [
  'shell',
  'docker',
  'http',
  'mcp',
  'noop',
  'spec-kit.generate',
  'spec-kit.validate',
] as const satisfies readonly StepKind[];
