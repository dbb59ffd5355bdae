import type { IncomingMessage, ServerResponse } from 'node:http';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { OcrClient } from '@ocr/client';
import { createMcpServer } from './server.js';

/** `ocr mcp`: the server on stdin/stdout (nothing else may write to stdout); resolves when stdin ends. */
export async function serveStdio(client: OcrClient): Promise<void> {
  const server = createMcpServer({ client });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
  await server.connect(transport);
  process.stdin.once('end', () => void server.close());
  await closed;
}

/**
 * One streamable-HTTP request (stateless: no session, a server per request, so any API replica can
 * answer any request). The answer is JSON or, for a tool that streams (follow_run's progress), an SSE
 * stream that ends with the result. Everything is released when the response closes.
 */
export async function handleHttp(
  client: OcrClient,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
): Promise<void> {
  const server = createMcpServer({ client });
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.once('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}
