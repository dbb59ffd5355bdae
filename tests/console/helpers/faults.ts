import type { Page, WebSocketRoute } from 'playwright-core';

/**
 * The page's `/v1/stream` WebSocket routed through Playwright to the real API, so a test can cut it the
 * way a network failure would (both ends closed) and keep new connections from getting through for a while.
 */
export async function streamFaults(page: Page) {
  const live = new Set<{ page: WebSocketRoute; server: WebSocketRoute }>();
  let blocked = false;
  let connections = 0;
  await page.routeWebSocket(/\/v1\/stream$/, (ws) => {
    if (blocked) return void ws.close({ code: 4000, reason: 'network down' });
    connections++;
    const pair = { page: ws, server: ws.connectToServer() };
    live.add(pair);
    ws.onClose(() => live.delete(pair));
  });
  return {
    /** Connections that reached the server so far. */
    connections: () => connections,
    /** Cut every open stream connection; with `stayDown`, refuse reconnects until `restore()`. */
    async drop(stayDown = false) {
      blocked = stayDown;
      for (const pair of [...live]) {
        live.delete(pair);
        await pair.server.close({ code: 4000, reason: 'dropped' }).catch(() => undefined);
        await pair.page.close({ code: 4000, reason: 'dropped' }).catch(() => undefined);
      }
    },
    restore() {
      blocked = false;
    },
  };
}
