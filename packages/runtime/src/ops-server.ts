import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** What an ops server reports. `ready` decides /readyz (503 when false). */
export interface OpsServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  ready?: () => boolean | Promise<boolean>;
  health?: () => Record<string, unknown>;
}

/**
 * `/healthz`, `/readyz` and `/metrics` for processes that have no HTTP API of their own (worker,
 * sweeper). Listens on 0.0.0.0 so probes reach it in containers.
 */
export async function startOpsServer(
  options: OpsServerOptions,
): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0];
      try {
        if (path === '/healthz') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: 'ok', ...(options.health?.() ?? {}) }));
        } else if (path === '/readyz') {
          const ready = options.ready ? await options.ready() : true;
          res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: ready ? 'ready' : 'not_ready' }));
        } else if (path === '/metrics') {
          res.writeHead(200, { 'content-type': options.registry.contentType });
          res.end(await options.registry.metrics());
        } else {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'not_found', message: `no route ${path}` } }));
        }
      } catch {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'internal', message: 'internal error' } }));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
