import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createClient } from '@ocr/client';
import { handleHttp } from '@ocr/mcp';
import { bearerToken } from '../plugins/auth.js';

/** This API's own address, for the MCP server's calls back into it (loopback for a wildcard listen). */
function selfUrl(app: FastifyInstance): string {
  const { port } = app.server.address() as AddressInfo;
  const host = ['0.0.0.0', '::', ''].includes(app.config.HOST) ? '127.0.0.1' : app.config.HOST;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * `POST /v1/mcp`: the control room as an MCP server over streamable HTTP (stateless), for viewers and
 * above. Its tools call this API with the caller's own token, so the role checks, the lane and template
 * allowlists, the secret masking and the rate limit are the API's, enforced once. Not in the OpenAPI
 * document: it speaks MCP's JSON-RPC (see docs/agents.md). GET and DELETE (server-initiated streams and
 * sessions) are not offered: 405, as the MCP specification says for a stateless server.
 */
export async function mcpRoutes(app: FastifyInstance): Promise<void> {
  app.post('/v1/mcp', { config: { role: 'viewer' }, schema: { hide: true } }, async (request, reply) => {
    const token = bearerToken(request.headers.authorization)!;
    const client = createClient({ baseUrl: selfUrl(app), token });
    reply.hijack();
    await handleHttp(client, request.raw, reply.raw, request.body);
  });
  for (const method of ['GET', 'DELETE'] as const)
    app.route({
      method,
      url: '/v1/mcp',
      config: { role: 'viewer' },
      schema: { hide: true },
      handler: async (_request, reply) =>
        reply
          .code(405)
          .header('allow', 'POST')
          .send({
            error: { code: 'validation_failed', message: 'method: MCP here is stateless: POST only' },
          }),
    });
}
