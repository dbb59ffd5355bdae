import type {
  ArtifactRow,
  LaneState,
  RunEventRow,
  HotRun,
  RunStepRow,
  SpecDocRow,
  TemplateRow,
} from '@ocr/db';
import { waitReason } from '@ocr/db';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** A run row as the wire shows it (no lease token, no internals). */
export function runToWire(run: HotRun, lane?: LaneState) {
  return {
    id: run.id,
    template: run.template,
    template_version: run.template_version,
    lane: run.lane,
    priority: run.priority,
    status: run.status,
    params: run.params,
    attempt: run.attempt,
    max_attempts: run.max_attempts,
    run_at: run.run_at.toISOString(),
    created_at: run.created_at.toISOString(),
    started_at: iso(run.started_at),
    finished_at: iso(run.finished_at),
    heartbeat_at: iso(run.heartbeat_at),
    worker_id: run.worker_id,
    cancel_requested: run.cancel_requested,
    session_id: run.session_id,
    labels: run.labels,
    error: wireError(run.error),
    output: run.output ?? null,
    retry_of: run.retry_of,
    wait_reason: waitReason(run, lane),
  };
}
export type WireRun = ReturnType<typeof runToWire>;

/**
 * A stored run error as the wire's `RunError`: code, message and details only. The response schema's
 * serialiser dropped any other member; the claim answer, written by `JSON.stringify`, must not carry one.
 */
function wireError(error: unknown): { code: string; message: string; details?: unknown } | null {
  if (error === null || error === undefined) return null;
  const { code, message, details } = error as { code: unknown; message: unknown; details?: unknown };
  const out: { code: string; message: string; details?: unknown } = {
    code: String(code),
    message: String(message),
  };
  if (details !== undefined) out.details = details;
  return out;
}

/**
 * The claim answer as the bytes sent. The route answers it as a Buffer, so Fastify neither runs the
 * response schema's serialiser nor measures the string again for Content-Length: for 200 runs a claim those
 * were a tenth of the API's CPU per run in the drain profile, and `JSON.stringify` writes the same JSON
 * (every member is built by `runToWire` and the orchestrator from typed values; test/claim-answer.test.ts
 * compares the two over generated runs).
 */
export function claimAnswerBody(answer: unknown): Buffer {
  return Buffer.from(JSON.stringify(answer), 'utf8');
}

export function eventToWire(event: RunEventRow) {
  return {
    seq: event.seq,
    ts: event.ts.toISOString(),
    attempt: event.attempt,
    level: event.level,
    type: event.type,
    step: event.step,
    message: event.message,
    data: event.data ?? null,
  };
}

export function stepToWire(step: RunStepRow) {
  return {
    idx: step.idx,
    attempt: step.attempt,
    name: step.name,
    kind: step.kind,
    status: step.status,
    started_at: step.started_at.toISOString(),
    finished_at: iso(step.finished_at),
    exit_code: step.exit_code,
  };
}

export function artifactToWire(a: ArtifactRow) {
  return {
    id: a.id,
    run_id: a.run_id,
    name: a.name,
    kind: a.kind,
    content_type: a.content_type,
    size: Number(a.size),
    sha256: a.sha256,
    status: a.status,
    created_at: a.created_at.toISOString(),
  };
}

/** The template definition a version stores (the authored DSL minus name and description). */
export interface TemplateDefinition {
  params_schema?: Record<string, unknown>;
  default_lane?: string;
  timeout_s?: number;
  retry?: { max_attempts: number; backoff?: { initial_s: number; factor: number; max_s: number } };
  steps: Record<string, unknown>[];
}

export function templateToWire(t: TemplateRow) {
  const def = t.definition as TemplateDefinition;
  return {
    name: t.name,
    version: t.version,
    description: t.description,
    params_schema: def.params_schema ?? { type: 'object' },
    default_lane: def.default_lane ?? 'A',
    timeout_s: def.timeout_s ?? null,
    retry: def.retry ?? { max_attempts: 1 },
    steps: def.steps,
    created_at: t.created_at.toISOString(),
  };
}

/** A spec document; `content` only where the query read it (lists leave it out). */
export function specDocToWire(d: SpecDocRow) {
  return {
    id: d.id,
    project: d.project,
    name: d.name,
    version: d.version,
    ...(d.content !== null ? { content: d.content } : {}),
    run_id: d.run_id,
    artifact_id: d.artifact_id,
    created_at: d.created_at.toISOString(),
  };
}
