import type { OcrClient } from './client.js';
import type { Artifact, Run, RunEvent, Template, TemplateInput } from './types.js';
import { TERMINAL_STATUSES } from './types.js';

/** A JSON Schema object, as agent frameworks take tool input schemas. */
export type JsonSchema = Record<string, unknown>;

/** A runbook template as an agent tool: what any agent framework needs to offer it to a model. */
export interface RunbookTool {
  /** A tool name agents accept (`^[a-zA-Z0-9_-]{1,64}$`): `run_` and the template name. */
  name: string;
  /** The template it runs. */
  template: string;
  description: string;
  /** The template's params schema; secret params (`writeOnly` or `format: password`) also carry `x-ocr-secret: true`. */
  inputSchema: JsonSchema;
  /** Params the template marks secret: never shown back by the API, masked in every output. */
  secretParams: string[];
  /** The lane its runs go to unless the caller names another. */
  defaultLane: string;
}

/** How a run ended, as an agent reads it. */
export interface RunOutcome {
  runId: string;
  status: Run['status'];
  error: Run['error'];
  output: unknown;
  /** Lines the run printed (stdout and stderr, in order), up to `maxLines`. */
  lines: string[];
  artifacts: Artifact[];
  lastSeq: number;
}

export interface InvokeOptions {
  lane?: string;
  /** A retried invoke with the same key returns the first run instead of starting another. */
  idempotencyKey?: string;
  signal?: AbortSignal;
  /** Every event of the run as it happens (backlog first). */
  onEvent?: (event: RunEvent) => void;
  /** Lines kept in the outcome (1,000 by default; the rest are still delivered to onEvent). */
  maxLines?: number;
}

/**
 * What an agent framework needs from the control room, without MCP: list the runbooks it may run, run
 * one with arguments, receive its events, get the outcome. `createAgentAdapter` implements it over the
 * SDK; the token's role and lane/template allowlists decide what it lists and may run.
 */
export interface RunbookAgentAdapter {
  listTools(): Promise<RunbookTool[]>;
  /** Start the tool's template with `args` as params and wait for the outcome. */
  invoke(toolName: string, args: Record<string, unknown>, options?: InvokeOptions): Promise<RunOutcome>;
  /** Start without waiting: the run id, for `events` and `outcome`. */
  start(toolName: string, args: Record<string, unknown>, options?: InvokeOptions): Promise<Run>;
  events(runId: string, options?: { afterSeq?: number; signal?: AbortSignal }): AsyncIterable<RunEvent>;
  /** Follow a run to its end and describe how it ended. */
  outcome(runId: string, options?: InvokeOptions): Promise<RunOutcome>;
}

const TOOL_PREFIX = 'run_';
const SECRET_NOTE = '(secret: never shown back, masked in output)';

/** The tool name of a template: `run_` + the name with every character agents refuse as `_`, ≤ 64. */
export function toolName(template: string): string {
  return (TOOL_PREFIX + template.replace(/[^a-zA-Z0-9_-]/g, '_')).slice(0, 64);
}

/** Params a schema marks secret (`writeOnly: true` or `format: "password"`), as the API reads them. */
export function secretParams(schema: unknown): string[] {
  const props = (schema as { properties?: Record<string, { writeOnly?: boolean; format?: string }> })
    ?.properties;
  return Object.entries(props ?? {})
    .filter(([, p]) => p?.writeOnly === true || p?.format === 'password')
    .map(([name]) => name);
}

/** A template as an agent tool. The input schema is the params schema; secret params are marked. */
export function templateToTool(
  template: Pick<Template, 'name' | 'description' | 'params_schema' | 'default_lane'>,
): RunbookTool {
  const schema = structuredClone((template.params_schema ?? { type: 'object' }) as JsonSchema);
  const secrets = secretParams(schema);
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const name of secrets) {
    const prop = props[name]!;
    prop['x-ocr-secret'] = true;
    prop.description = `${prop.description ? `${String(prop.description)} ` : ''}${SECRET_NOTE}`;
  }
  return {
    name: toolName(template.name),
    template: template.name,
    description: template.description || `Run the ${template.name} runbook`,
    inputSchema: schema,
    secretParams: secrets,
    defaultLane: template.default_lane,
  };
}

/**
 * A tool definition back into a template, with the steps an agent drafted for it. Validate the result
 * with `client.templates.validate` before saving it: nothing runs until the API has accepted it.
 */
export function toolToTemplate(
  tool: Pick<RunbookTool, 'template' | 'description' | 'inputSchema' | 'defaultLane'>,
  steps: TemplateInput['steps'],
  extra: Partial<Omit<TemplateInput, 'name' | 'description' | 'params_schema' | 'steps'>> = {},
): TemplateInput {
  const schema = structuredClone(tool.inputSchema);
  for (const prop of Object.values((schema.properties ?? {}) as Record<string, JsonSchema>)) {
    if (prop['x-ocr-secret'] === true) {
      delete prop['x-ocr-secret'];
      if (typeof prop.description === 'string')
        prop.description =
          prop.description.replace(/ ?\(secret: never shown back, masked in output\)$/, '') || undefined;
      if (prop.description === undefined) delete prop.description;
    }
  }
  return {
    name: tool.template,
    description: tool.description,
    params_schema: schema,
    default_lane: tool.defaultLane,
    ...extra,
    steps,
  } as TemplateInput;
}

/** The agent adapter over an SDK client. */
export function createAgentAdapter(client: OcrClient): RunbookAgentAdapter {
  async function resolve(name: string): Promise<RunbookTool> {
    const { templates } = await client.templates.list();
    const tool = templates.map(templateToTool).find((t) => t.name === name);
    if (!tool) throw new Error(`no runbook tool ${name} (or this token may not see its template)`);
    return tool;
  }
  const adapter: RunbookAgentAdapter = {
    async listTools() {
      const { templates } = await client.templates.list();
      return templates.map(templateToTool);
    },
    async start(name, args, options = {}) {
      const tool = await resolve(name);
      const { run } = await client.runs.create(
        { template: tool.template, params: args, ...(options.lane ? { lane: options.lane } : {}) },
        options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {},
      );
      return run;
    },
    events: (runId, options = {}) => client.follow(runId, options),
    async outcome(runId, options = {}) {
      const maxLines = options.maxLines ?? 1000;
      const lines: string[] = [];
      let lastSeq = 0;
      for await (const event of client.follow(runId, options.signal ? { signal: options.signal } : {})) {
        lastSeq = event.seq;
        options.onEvent?.(event);
        if (event.type === 'log' && lines.length < maxLines) lines.push(event.message);
      }
      const { run } = await client.runs.get(runId);
      if (!TERMINAL_STATUSES.includes(run.status)) throw new Error(`run ${runId} is ${run.status}`);
      const { artifacts } = await client.runs.artifacts(runId);
      return {
        runId,
        status: run.status,
        error: run.error,
        output: run.output,
        lines,
        artifacts: artifacts as Artifact[],
        lastSeq,
      };
    },
    async invoke(name, args, options = {}) {
      const run = await adapter.start(name, args, options);
      return adapter.outcome(run.id, options);
    },
  };
  return adapter;
}
