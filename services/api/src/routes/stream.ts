import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import Value from 'typebox/value';
import { ClientMessage, type ServerMessage } from '@ocr/contracts';
import { allowed, bearerToken, type Principal } from '../plugins/auth.js';
import { apiError } from '../errors.js';
import { getRun } from '@ocr/db';
import { isScoped, outOfScope, runAllowed } from '../scope.js';
import type { StreamClient } from '../realtime/hub.js';

const AUTH_TIMEOUT_MS = 10_000;

/** What the OpenAPI document says about the stream (OpenAPI cannot describe WebSocket messages itself). */
const STREAM_DOC = [
  'Upgrade to a WebSocket (`ws://` or `wss://`). Authenticate with `Authorization: Bearer <token>` on the upgrade, or send',
  '`{"type":"auth","token":"..."}` first (within 10 s); viewer role or above. Browser pages must come from the API\'s origin or one',
  'listed in OCR_CORS_ORIGINS (403 otherwise). Client messages: `auth`; `subscribe`/`unsubscribe` with `topic` `run` (`run_id`,',
  '`after_seq`, `batch`), `runs` or `lanes`; `ping`. Server messages: `ready`, `subscribed`, `event` (every event with seq > after_seq,',
  'once, in order) or, with `batch: true`, `events` (arrays of them), `run`, `lanes`, `pong`, `error` (`unauthorized` then close 4401, `forbidden` then close 4403,',
  '`validation_failed`, `internal`, `resync_required`). Messages are handled in order; a revoked token is closed within',
  'OCR_AUTH_CACHE_MS. Full description: docs/api.md#websocket-v1stream. A plain GET without an upgrade is a 400.',
].join(' ');

/**
 * May a page from this `Origin` open the stream? Browsers always send it; other clients (CLI, workers,
 * integrations) send none and are judged by their token alone. Same origin as the API, or listed in
 * OCR_CORS_ORIGINS: a page elsewhere cannot ride a user's token over a WebSocket (no CORS for sockets).
 */
export function originAllowed(request: FastifyRequest, allowedOrigins: string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowedOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/**
 * `GET /v1/stream`: authenticated by the Authorization header or a first `{"type":"auth","token"}` message
 * (browsers cannot set headers on WebSockets); viewer role or above. Messages are handled one at a time,
 * in order (a subscribe sent right after `auth` waits for it). The token is checked again on every
 * subscribe and every OCR_AUTH_CACHE_MS against the database: a revoked token's socket is closed within
 * that time on every replica (at once on the replica that revoked it). Pinged every OCR_WS_PING_S; a peer
 * that misses a pong is dropped.
 */
export async function streamRoutes(app: FastifyInstance): Promise<void> {
  const origins = app.config.OCR_CORS_ORIGINS.split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  const recheckMs = Math.max(Math.floor(app.config.OCR_AUTH_CACHE_MS / 3), 100);

  app.route({
    method: 'GET',
    url: '/v1/stream',
    config: { role: 'public' },
    // Described in the OpenAPI document (a `websocket: true` route would be hidden from it).
    schema: {
      tags: ['stream'],
      summary: 'WebSocket: live run events, run status changes and lane snapshots',
      description: STREAM_DOC,
    },
    onRequest: async (request) => {
      if (!originAllowed(request, origins))
        throw apiError(
          'forbidden',
          `origin ${request.headers.origin} may not open the stream (OCR_CORS_ORIGINS)`,
        );
    },
    // A plain GET (no upgrade) gets the JSON error shape like every other refusal.
    handler: async () => {
      throw apiError(
        'validation_failed',
        'this route is a WebSocket: send an upgrade request (Connection: Upgrade, Upgrade: websocket)',
        [{ field: 'headers.upgrade', message: 'is required' }],
      );
    },
    wsHandler: (socket: WebSocket, request) => {
      let principal: Principal | undefined;
      let token: string | undefined;
      let forgetRevocation: (() => void) | undefined;
      let alive = true;
      const client: StreamClient = {
        send: (message: ServerMessage) => {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
        },
        sendFrames: (frames: Buffer[]) => {
          if (socket.readyState !== socket.OPEN) return;
          for (const frame of frames) socket.send(frame, { binary: false });
        },
        buffered: () => socket.bufferedAmount,
        isOpen: () => socket.readyState === socket.OPEN,
      };
      const fail = (code: string, message: string) =>
        client.send({ type: 'error', error: { code, message } });
      const refuse = (message = 'invalid or revoked token') => {
        fail('unauthorized', message);
        socket.close(4401, 'unauthorized');
      };

      /** Authenticate and admit; false when the token is refused. */
      const admit = async (value: string | undefined): Promise<boolean> => {
        let p: Principal;
        try {
          p = await app.authenticate(value, { from: request.ip });
        } catch {
          refuse();
          return false;
        }
        if (!allowed(p.role, 'viewer')) {
          fail('forbidden', 'the stream needs the viewer role or above');
          socket.close(4403, 'forbidden');
          return false;
        }
        if (socket.readyState !== socket.OPEN) return false;
        principal = p;
        token = value;
        client.scope = p;
        forgetRevocation = app.onTokenRevoked(p.tokenId, () => refuse('token revoked'));
        app.hub.attach(client);
        app.metrics.wsConnections.set(app.hub.connections);
        client.send({ type: 'ready', role: p.role });
        return true;
      };

      /** Is the token still live, by a verdict no older than `maxAgeMs`? */
      const stillValid = async (maxAgeMs?: number): Promise<boolean> => {
        try {
          await app.authenticate(token, { maxAgeMs });
          return true;
        } catch {
          refuse('token revoked');
          return false;
        }
      };

      const handle = async (raw: string): Promise<void> => {
        let message: unknown;
        try {
          message = JSON.parse(raw);
        } catch {
          return fail('validation_failed', 'message is not valid JSON');
        }
        if (!Value.Check(ClientMessage, message))
          return fail('validation_failed', 'unknown or malformed message');
        if (message.type === 'ping') return client.send({ type: 'pong' });
        if (message.type === 'auth') {
          if (!principal) await admit(message.token);
          return;
        }
        if (!principal) return fail('unauthorized', 'send {"type":"auth","token":...} first');
        if (message.type === 'subscribe') {
          if (!(await stillValid(recheckMs))) return;
          if (message.topic === 'run') {
            if (isScoped(principal)) {
              // A scoped token follows only runs it can see, and only runs that exist (a future run's id
              // could land in any lane).
              const run = await getRun(app.db, message.run_id);
              if (!run) return fail('not_found', `run ${message.run_id} not found`);
              if (!runAllowed(principal, run))
                return fail('out_of_scope', outOfScope(`run ${run.id}`, principal).message);
            }
            await app.hub
              .subscribeRun(client, message.run_id, message.after_seq ?? 0, message.batch ?? false)
              .catch((err) => {
                request.log.warn({ err }, 'subscribe failed');
                fail('internal', 'subscribe failed; retry');
              });
          } else app.hub.subscribeTopic(client, message.topic);
        } else if (message.type === 'unsubscribe') {
          if (message.topic === 'run') app.hub.unsubscribeRun(client, message.run_id);
          else app.hub.unsubscribeTopic(client, message.topic);
        }
      };

      // One message at a time, in arrival order: an auth still being checked holds back what follows it.
      let queue: Promise<void> = Promise.resolve();
      const enqueue = (work: () => Promise<unknown>) => {
        queue = queue.then(work).then(
          () => undefined,
          (err) => request.log.warn({ err }, 'stream message failed'),
        );
      };

      const authTimer = setTimeout(() => {
        if (!principal) refuse(`authenticate within ${AUTH_TIMEOUT_MS / 1000} s`);
      }, AUTH_TIMEOUT_MS);
      const header = bearerToken(request.headers.authorization);
      if (header) enqueue(() => admit(header));

      // Checked every third of the TTL against verdicts at most that old: a revocation anywhere ends the
      // socket within two thirds of the TTL (margin for a slow lookup), at one lookup per token, not per socket.
      const recheck = setInterval(() => {
        if (principal) enqueue(() => stillValid(recheckMs));
      }, recheckMs);

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
        const text = String(raw);
        enqueue(() => handle(text));
      });

      socket.on('close', () => {
        clearTimeout(authTimer);
        clearInterval(recheck);
        clearInterval(ping);
        forgetRevocation?.();
        app.hub.detach(client);
        app.metrics.wsConnections.set(app.hub.connections);
      });
    },
  });
}
