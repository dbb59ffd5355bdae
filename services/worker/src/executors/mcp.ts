/**
 * `mcp`: call one tool of an MCP server with the SDK's client, over stdio (a child process in the run
 * directory, its stderr streamed as log lines) or streamable HTTP. Arguments are rendered as JSON values.
 * The tool's text content streams into `result` log lines; the whole result is an `mcp.result` event and
 * a JSON artifact. A result with `isError` fails the step. On cancel or timeout the request is cancelled
 * (the SDK sends `notifications/cancelled`) and the session closed; a stdio server still running after
 * the grace is killed.
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { OutputFramer } from '../output/index.js';
import { renderArgv, renderJson, renderText, renderUrl } from '../params/index.js';
import { fetch as undiciFetch } from 'undici';
import { defineExecutor } from './define-executor.js';
import { checkUrl, createGuardedAgent, type GuardPolicy } from './http-guard.js';
import { localProcessEnv } from './process-env.js';
import { McpStep } from './step-schemas.js';
import { ExecutorError, stepResult, type StepContext, type StepExecutor } from './types.js';

/** Worker-wide settings of the mcp executor. */
export interface McpExecutorOptions {
  /** Name and version the client announces to servers. */
  clientInfo?: { name: string; version: string };
  /** Let servers over HTTP be on private, loopback and link-local addresses (OCR_HTTP_ALLOW_PRIVATE). Default false. */
  allowPrivate?: boolean;
}

// The SDK times requests out after 60 s by default; the step's own timeout (StepStop) is the limit here.
const NO_SDK_TIMEOUT = 2 ** 31 - 1;

type ToolContent = { type: string; text?: string; [key: string]: unknown };
type ToolResult = { content?: ToolContent[]; structuredContent?: unknown; isError?: boolean };

/**
 * The MCP SDK, loaded with the first mcp step rather than with every worker (worker cold start,
 * bench/RESULTS.md): most workers never run one.
 */
async function mcpSdk() {
  const [{ Client }, { StdioClientTransport }, { StreamableHTTPClientTransport }] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/stdio.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
  ]);
  return { Client, StdioClientTransport, StreamableHTTPClientTransport };
}
type McpSdk = Awaited<ReturnType<typeof mcpSdk>>;

/** An mcp executor. */
export function createMcpExecutor(options: McpExecutorOptions = {}): StepExecutor {
  const clientInfo = options.clientInfo ?? { name: 'ocr-worker', version: '0.1.0' };
  return defineExecutor('mcp', McpStep, async (step, ctx, stop) => {
    const args = (renderJson(step.arguments ?? {}, ctx.params, ctx.secrets) ?? {}) as Record<string, unknown>;
    const sdk = await mcpSdk();
    const { transport, describe, pid } = openTransport(sdk, step.server, ctx, options.allowPrivate === true);
    const client = new sdk.Client(clientInfo);
    let closed = false;
    let closing: Promise<void> | undefined;
    // One close, shared by the stop escalation and the normal end.
    const close = () =>
      (closing ??= client
        .close()
        .catch(() => undefined)
        .then(() => {
          closed = true;
        }));
    stop.escalateWith({
      gentle: { message: 'MCP request cancelled, session closing', data: { server: describe }, run: close },
      force: {
        message: pid() ? 'MCP server process killed (SIGKILL)' : 'MCP session abandoned',
        data: { server: describe, ...(pid() ? { pid: pid(), signal: 'SIGKILL' } : {}) },
        run: () => {
          const serverPid = pid();
          if (serverPid) killQuietly(serverPid);
        },
      },
      finished: () => closed,
    });
    try {
      try {
        await client.connect(transport, { signal: stop.signal, timeout: NO_SDK_TIMEOUT });
      } catch (err) {
        if (stop.reason) throw err;
        throw new ExecutorError(
          'mcp_connect_failed',
          `could not start an MCP session with ${describe}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      ctx.emit({
        level: 'info',
        type: 'mcp.call',
        message: `calling ${step.tool} on ${describe}`,
        data: { tool: step.tool, server: describe, ...(pid() ? { pid: pid() } : {}) },
      });
      let result: ToolResult;
      try {
        result = (await client.callTool({ name: step.tool, arguments: args }, undefined, {
          signal: stop.signal,
          timeout: NO_SDK_TIMEOUT,
        })) as ToolResult;
      } catch (err) {
        if (stop.reason) throw err;
        throw new ExecutorError('mcp_error', `${step.tool} on ${describe}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      const texts = (result.content ?? [])
        .filter((c) => c.type === 'text' && typeof c.text === 'string')
        .map((c) => c.text!);
      const framer = new OutputFramer(ctx.emit, ctx.output);
      for (const text of texts) framer.write('result', text.endsWith('\n') ? text : `${text}\n`);
      framer.end();
      const isError = result.isError === true;
      ctx.emit({
        level: isError ? 'error' : 'info',
        type: 'mcp.result',
        message: `${step.tool} ${isError ? 'returned an error' : 'returned'}${texts[0] ? `: ${firstLine(texts[0])}` : ''}`,
        data: {
          tool: step.tool,
          is_error: isError,
          content_types: (result.content ?? []).map((c) => c.type),
          structured: result.structuredContent !== undefined,
        },
      });
      ctx.addArtifact({
        name: `${ctx.stepName}.result.json`,
        kind: 'json',
        content_type: 'application/json',
        content: JSON.stringify({ server: describe, tool: step.tool, result }, null, 2),
      });
      if (isError)
        return stepResult.failed(
          'tool_error',
          `${step.tool} returned an error${texts[0] ? `: ${firstLine(texts[0])}` : ''}`,
        );
      return stepResult.succeeded(result.structuredContent ?? { text: texts.join('\n') });
    } finally {
      // Stopping: the escalation closes, and kills a stdio server still there after the grace.
      if (stop.reason) await close();
      else await closeWithin(close, pid, ctx.killGraceMs);
    }
  });
}

/** The transport for the step's server; a stdio server's stderr is framed into log lines. */
function openTransport(
  { StdioClientTransport, StreamableHTTPClientTransport }: McpSdk,
  server: McpStep['server'],
  ctx: StepContext,
  allowPrivate: boolean,
): { transport: Transport; describe: string; pid: () => number | null } {
  if ('command' in server) {
    // The server's argv is analyzed like a docker command: whole-element placeholders only, no interpreter.
    const args = renderArgv([server.command, ...(server.args ?? [])], ctx.params, ctx.secrets, 1);
    const stdio = new StdioClientTransport({
      command: server.command,
      args,
      env: localProcessEnv(ctx, server.env),
      cwd: ctx.workdir,
      stderr: 'pipe',
    });
    const framer = new OutputFramer(ctx.emit, ctx.output);
    stdio.stderr?.on('data', (chunk: Buffer) => framer.write('stderr', chunk));
    stdio.stderr?.on('end', () => framer.end());
    return { transport: stdio, describe: [server.command, ...args].join(' '), pid: () => stdio.pid };
  }
  const url = new URL(renderUrl(server.url, ctx.params, ctx.secrets));
  // The same SSRF guard as http steps: scheme, literal address, then every connection's resolved and peer address.
  const policy: GuardPolicy = { allowPrivate };
  checkUrl(url, policy);
  const agent = createGuardedAgent(allowPrivate);
  const guardedFetch = ((input: string | URL, init?: RequestInit) => {
    checkUrl(new URL(String(input instanceof URL ? input.href : input)), policy);
    return undiciFetch(input as never, { ...(init as object), dispatcher: agent } as never);
  }) as unknown as typeof fetch;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(server.headers ?? {}))
    headers[name] = renderText(value, ctx.params, ctx.secrets);
  return {
    transport: new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch: guardedFetch }),
    describe: url.href,
    pid: () => null,
  };
}

/** Close the session; a stdio server that has not exited after the grace is killed (the SDK would wait 4 s). */
async function closeWithin(
  close: () => Promise<void>,
  pid: () => number | null,
  graceMs: number,
): Promise<void> {
  const serverPid = pid();
  const timer = serverPid ? setTimeout(() => killQuietly(serverPid), graceMs) : undefined;
  try {
    await close();
  } finally {
    clearTimeout(timer);
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
