import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { ApiError, templateToTool, type OcrClient, type RunEvent } from '@ocr/client';
import { READ_TOOLS, WRITE_TOOLS, type ToolSpec } from './tools.js';

export interface McpServerOptions {
  /** A client with the caller's token: every call goes through the API, which enforces role and scope. */
  client: OcrClient;
  /** The server's version, as MCP clients see it. */
  version?: string;
}

/** Roles that may start, cancel and retry runs: the others see the read tools only. */
const WRITERS = new Set(['admin', 'operator']);
/** Output lines a follow_run answer carries at most (the rest are in the run's events). */
const MAX_LINES = 2_000;

function text(value: unknown): CallToolResult {
  return {
    content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }],
  };
}

function refusal(err: unknown): CallToolResult {
  const message =
    err instanceof ApiError
      ? `${err.code}: ${err.message}`
      : err instanceof Error
        ? err.message
        : String(err);
  return { isError: true, content: [{ type: 'text', text: message }] };
}

function toolOf(spec: ToolSpec): Tool {
  return {
    name: spec.name,
    description: spec.description,
    inputSchema: spec.inputSchema as Tool['inputSchema'],
  };
}

const RUN_URI = /^ocr:\/\/runs\/([0-9a-f-]{36})$/;
const ARTIFACT_URI = /^ocr:\/\/artifacts\/([0-9a-f-]{36})$/;
const TEXT_KINDS = new Set(['text', 'markdown', 'json', 'diff']);

/**
 * The control room as an MCP server: every template the token may see is a tool (input schema = its
 * params schema), plus tools to follow a run's output, read its status, list and fetch artifacts, cancel
 * and retry; runs and artifacts are resources. It holds no authority of its own: each call is an API call
 * with the caller's token, so roles and lane/template allowlists are the API's. A viewer is offered the
 * read tools only (and a write it calls anyway is refused by the API).
 */
export function createMcpServer(options: McpServerOptions): Server {
  const { client } = options;
  const server = new Server(
    { name: 'ops-control-room', version: options.version ?? '0.1.0' },
    {
      capabilities: { tools: {}, resources: {} },
      instructions:
        'Runbooks of the Ops Control Room. Each run_* tool starts a run of a template and answers its id at once; ' +
        'follow_run streams its output to the end. Secret params are never shown back.',
    },
  );
  let role: string | undefined;
  const roleOf = async () => (role ??= (await client.whoami()).role);

  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const tools = READ_TOOLS.map(toolOf);
    if (!WRITERS.has(await roleOf())) return { tools };
    const { templates } = await client.templates.list();
    return {
      tools: [
        ...tools,
        ...WRITE_TOOLS.map(toolOf),
        ...templates.map((t) => {
          const tool = templateToTool(t);
          return {
            name: tool.name,
            description: `${tool.description} (runbook template ${t.name} v${t.version}, lane ${t.default_lane})`,
            inputSchema: tool.inputSchema as Tool['inputSchema'],
            _meta: { 'ocr/template': t.name, 'ocr/secret_params': tool.secretParams },
          };
        }),
      ],
    };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const args = (request.params.arguments ?? {}) as Record<string, unknown>;
    const id = (key: string) => String(args[key] ?? '');
    try {
      switch (request.params.name) {
        case 'get_run':
          return text(await client.runs.get(id('run_id')));
        case 'list_runs': {
          const { runs, next_cursor } = await client.runs.list({
            ...(args.status ? { status: args.status as never } : {}),
            ...(args.template ? { template: String(args.template) } : {}),
            ...(args.lane ? { lane: String(args.lane) } : {}),
            limit: Math.min(Number(args.limit ?? 20), 100),
          });
          return text({ runs, next_cursor });
        }
        case 'list_artifacts':
          return text(await client.runs.artifacts(id('run_id')));
        case 'get_artifact':
          return await readArtifact(client, id('artifact_id'));
        case 'list_templates':
          return text((await client.templates.list()).templates.map(templateToTool));
        case 'follow_run': {
          const progressToken = request.params._meta?.progressToken;
          const timeoutS = Math.min(Math.max(Number(args.timeout_s ?? 300), 1), 3600);
          const signal = AbortSignal.any([extra.signal, AbortSignal.timeout(timeoutS * 1000)]);
          const lines: string[] = [];
          let lastSeq = Number(args.after_seq ?? 0);
          let count = 0;
          try {
            for await (const event of client.follow(id('run_id'), { afterSeq: lastSeq, signal })) {
              lastSeq = event.seq;
              const line = describe(event);
              if (lines.length < MAX_LINES) lines.push(line);
              if (progressToken !== undefined)
                await extra.sendNotification({
                  method: 'notifications/progress',
                  params: { progressToken, progress: ++count, message: line },
                });
            }
          } catch (err) {
            if (!signal.aborted || extra.signal.aborted) throw err;
          }
          const { run } = await client.runs.get(id('run_id'));
          return text(
            `status: ${run.status}\nlast_seq: ${lastSeq}${run.error ? `\nerror: ${JSON.stringify(run.error)}` : ''}\n` +
              (['success', 'error', 'cancelled'].includes(run.status)
                ? ''
                : `still ${run.status}: call follow_run again with after_seq ${lastSeq}\n`) +
              `--- output ---\n${lines.join('\n')}`,
          );
        }
        case 'cancel_run':
          return text(await client.runs.cancel(id('run_id')));
        case 'retry_run':
          return text(await client.runs.retry(id('run_id')));
        case 'validate_template':
          return text(await client.templates.validate(args.template));
        default: {
          const { templates } = await client.templates.list();
          const template = templates.find((t) => templateToTool(t).name === request.params.name);
          if (!template) return refusal(new Error(`unknown tool ${request.params.name}`));
          const { run } = await client.runs.create({ template: template.name, params: args });
          return text({
            run,
            next: `call follow_run with run_id ${run.id} to stream its output to the end`,
          });
        }
      }
    } catch (err) {
      return refusal(err);
    }
  });

  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [
      {
        uriTemplate: 'ocr://runs/{run_id}',
        name: 'run',
        mimeType: 'application/json',
        description: 'A run: status, params (secrets masked), error, output, steps',
      },
      {
        uriTemplate: 'ocr://artifacts/{artifact_id}',
        name: 'artifact',
        description: 'An artifact: text kinds as text, others as a blob',
      },
    ],
  }));

  server.setRequestHandler(ListResourcesRequestSchema, async () => {
    const { runs } = await client.runs.list({ limit: 50 });
    return {
      resources: runs.map((run) => ({
        uri: `ocr://runs/${run.id}`,
        name: `${run.template} ${run.id.slice(0, 8)} (${run.status})`,
        mimeType: 'application/json',
      })),
    };
  });

  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const { uri } = request.params;
    const run = RUN_URI.exec(uri);
    if (run) {
      const detail = await client.runs.get(run[1]!);
      return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(detail, null, 2) }] };
    }
    const artifact = ARTIFACT_URI.exec(uri);
    if (artifact) {
      const { artifact: meta } = await client.artifacts.get(artifact[1]!);
      const body = await (await client.artifacts.content(artifact[1]!)).arrayBuffer();
      return TEXT_KINDS.has(meta.kind)
        ? { contents: [{ uri, mimeType: meta.content_type, text: new TextDecoder().decode(body) }] }
        : { contents: [{ uri, mimeType: meta.content_type, blob: Buffer.from(body).toString('base64') }] };
    }
    throw new Error(`unknown resource ${uri}: ocr://runs/{id} or ocr://artifacts/{id}`);
  });
  return server;
}

function describe(event: RunEvent): string {
  const step = event.step ? `[${event.step}] ` : '';
  return event.type === 'log' ? `${step}${event.message}` : `${step}${event.type}: ${event.message}`;
}

async function readArtifact(client: OcrClient, artifactId: string): Promise<CallToolResult> {
  const { artifact: meta } = await client.artifacts.get(artifactId);
  if (meta.status !== 'ready') return text({ artifact: meta, note: 'not ready yet' });
  const body = await (await client.artifacts.content(artifactId)).arrayBuffer();
  if (TEXT_KINDS.has(meta.kind))
    return { content: [{ type: 'text', text: new TextDecoder().decode(body) }], _meta: { artifact: meta } };
  if (meta.kind === 'image')
    return {
      content: [{ type: 'image', data: Buffer.from(body).toString('base64'), mimeType: meta.content_type }],
    };
  return text({
    artifact: meta,
    note: `binary (${meta.size} bytes): use resource ocr://artifacts/${artifactId}`,
  });
}
