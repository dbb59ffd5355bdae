import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import Value from 'typebox/value';
import { ClientMessage, type ServerMessage } from '@ocr/contracts';
import { allowed, type Principal } from '../plugins/auth.js';
import type { StreamClient } from '../realtime/hub.js';

const AUTH_TIMEOUT_MS = 10_000;

/**
 * `GET /v1/stream`: authenticated by the Authorization header or a first `{"type":"auth","token"}` message
 * (browsers cannot set headers on WebSockets); viewer role or above. Pinged every OCR_WS_PING_S; a peer that
 * misses a pong is dropped.
 */
export async function streamRoutes(app: FastifyInstance): Promise<void> {
  app.get('/v1/stream', { websocket: true, config: { role: 'public' }, schema: { hide: true } }, (socket: WebSocket, request) => {
    let principal: Principal | undefined;
    let alive = true;
    const client: StreamClient = {
      send: (message: ServerMessage) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
      },
      buffered: () => socket.bufferedAmount,
      isOpen: () => socket.readyState === socket.OPEN,
    };
    const fail = (code: string, message: string) => client.send({ type: 'error', error: { code, message } });

    const admit = (p: Principal) => {
      if (!allowed(p.role, 'viewer')) {
        fail('forbidden', 'the stream needs the viewer role or above');
        socket.close(4403, 'forbidden');
        return;
      }
      principal = p;
      app.hub.attach(client);
      app.metrics.wsConnections.set(app.hub.connections);
      client.send({ type: 'ready', role: p.role });
    };

    const header = request.headers.authorization;
    const authTimer = setTimeout(() => {
      if (!principal) {
        fail('unauthorized', 'authenticate within 10 s');
        socket.close(4401, 'unauthorized');
      }
    }, AUTH_TIMEOUT_MS);
    if (header?.startsWith('Bearer ')) {
      app.authenticate(header.slice(7).trim()).then(admit, () => {
        fail('unauthorized', 'invalid or revoked token');
        socket.close(4401, 'unauthorized');
      });
    }

    const ping = setInterval(() => {
      if (!alive) {
        socket.terminate();
        return;
      }
      alive = false;
      socket.ping();
    }, app.config.OCR_WS_PING_S * 1000);
    socket.on('pong', () => (alive = true));

    socket.on('message', (raw) => {
      alive = true;
      let message: unknown;
      try {
        message = JSON.parse(String(raw));
      } catch {
        return fail('validation_failed', 'message is not valid JSON');
      }
      if (!Value.Check(ClientMessage, message)) return fail('validation_failed', 'unknown or malformed message');
      if (message.type === 'auth') {
        if (principal) return;
        app.authenticate(message.token).then(admit, () => {
          fail('unauthorized', 'invalid or revoked token');
          socket.close(4401, 'unauthorized');
        });
        return;
      }
      if (message.type === 'ping') return client.send({ type: 'pong' });
      if (!principal) return fail('unauthorized', 'send {"type":"auth","token":...} first');
      if (message.type === 'subscribe') {
        if (message.topic === 'run') {
          app.hub.subscribeRun(client, message.run_id, message.after_seq ?? 0).catch((err) => {
            request.log.warn({ err }, 'subscribe failed');
            fail('internal', 'subscribe failed; retry');
          });
        } else app.hub.subscribeTopic(client, message.topic);
      } else if (message.type === 'unsubscribe') {
        if (message.topic === 'run') app.hub.unsubscribeRun(client, message.run_id);
        else app.hub.unsubscribeTopic(client, message.topic);
      }
    });

    socket.on('close', () => {
      clearTimeout(authTimer);
      clearInterval(ping);
      app.hub.detach(client);
      app.metrics.wsConnections.set(app.hub.connections);
    });
  });
}
