// Regression tests for issue 16's WebSocket findings: revoked tokens kept streaming, no Origin check, a
// subscribe sent right after a first-message auth was lost.
import t from 'tap';
import { once } from 'node:events';
import WebSocket from 'ws';
import { revokeToken } from '@ocr/db';
import { startStack, type Stack } from '@ocr/testkit';
import { withEchoTemplate } from './helpers.js';

interface Socket {
  ws: WebSocket;
  messages: { type: string; [k: string]: unknown }[];
  /** Resolves with the first message (already received or future) that matches. */
  next(
    match: (m: { type: string; [k: string]: unknown }) => boolean,
  ): Promise<{ type: string; [k: string]: unknown }>;
  closed: Promise<{ code: number; at: number }>;
}

function open(stack: Stack, options: { token?: string; origin?: string } = {}): Socket {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.origin) headers.origin = options.origin;
  const ws = new WebSocket(`${stack.apiUrl.replace(/^http/, 'ws')}/v1/stream`, { headers });
  const messages: Socket['messages'] = [];
  const waiters: {
    match: (m: Socket['messages'][number]) => boolean;
    resolve: (m: Socket['messages'][number]) => void;
  }[] = [];
  ws.on('message', (raw) => {
    const message = JSON.parse(String(raw));
    messages.push(message);
    for (const w of [...waiters]) {
      if (!w.match(message)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(message);
    }
  });
  const closed = new Promise<{ code: number; at: number }>((resolve) =>
    ws.on('close', (code) => resolve({ code, at: Date.now() })),
  );
  return {
    ws,
    messages,
    closed,
    next: (match) => {
      const seen = messages.find(match);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

t.test(
  'a revoked token: its open socket is closed within the cache TTL (at once where revoked) and cannot subscribe',
  async (t) => {
    const TTL = 1_000;
    const stack = await startStack(t, { s3: false, env: { OCR_AUTH_CACHE_MS: String(TTL) } });
    await withEchoTemplate(stack);

    // Revoked through the API of this replica: closed at once.
    const viewer = await stack.client.tokens.create({ name: 'v1', role: 'viewer' });
    const a = open(stack, { token: viewer.token });
    await a.next((m) => m.type === 'ready');
    a.ws.send(JSON.stringify({ type: 'subscribe', topic: 'runs' }));
    await a.next((m) => m.type === 'subscribed');
    const revokedAt = Date.now();
    await stack.client.tokens.revoke(viewer.id);
    const closedA = await a.closed;
    t.equal(closedA.code, 4401, 'closed as unauthorized');
    t.ok(closedA.at - revokedAt < TTL, `closed ${closedA.at - revokedAt} ms after DELETE /v1/tokens/:id`);

    // Revoked elsewhere (another replica; here: straight in the database): closed within the TTL.
    const other = await stack.client.tokens.create({ name: 'v2', role: 'viewer' });
    const b = open(stack, { token: other.token });
    await b.next((m) => m.type === 'ready');
    const dbRevokedAt = Date.now();
    await revokeToken(stack.db.db, other.id);
    const closedB = await b.closed;
    t.equal(closedB.code, 4401);
    t.ok(
      closedB.at - dbRevokedAt <= TTL + 250,
      `closed ${closedB.at - dbRevokedAt} ms after a revoke on another replica (TTL ${TTL} ms)`,
    );
    const { run } = await stack.client.runs.create({ template: 'echo', params: { message: 'after' } });
    t.notOk(
      b.messages.some((m) => JSON.stringify(m).includes(run.id)),
      'nothing about a run created after the revocation reached it',
    );

    // A socket that keeps subscribing after its token was revoked elsewhere: no subscription is granted once
    // the revocation is older than the TTL, and the socket is closed.
    const third = await stack.client.tokens.create({ name: 'v3', role: 'viewer' });
    const c = open(stack, { token: third.token });
    await c.next((m) => m.type === 'ready');
    const acks: number[] = [];
    c.ws.on('message', (raw) => {
      if (JSON.parse(String(raw)).type === 'subscribed') acks.push(Date.now());
    });
    const cRevokedAt = Date.now();
    await revokeToken(stack.db.db, third.id);
    const spam = setInterval(
      () =>
        c.ws.readyState === WebSocket.OPEN &&
        c.ws.send(JSON.stringify({ type: 'subscribe', topic: 'run', run_id: run.id })),
      50,
    );
    const closedC = await c.closed;
    clearInterval(spam);
    t.equal(closedC.code, 4401);
    t.ok(
      acks.every((at) => at - cRevokedAt < TTL),
      `no subscribe granted later than the TTL after revocation (${acks.length} granted before)`,
    );

    // And a new connection with it is refused.
    const d = open(stack, { token: viewer.token });
    t.equal((await d.closed).code, 4401);
  },
);

t.test(
  'Origin: a page on another origin cannot open the stream; same origin, listed origins and non-browsers can',
  async (t) => {
    const stack = await startStack(t, {
      s3: false,
      env: { OCR_CORS_ORIGINS: 'https://console.example.com' },
    });
    const evil = open(stack, { token: stack.adminToken, origin: 'https://evil.example.com' });
    const refused = await new Promise<number>((resolve) =>
      evil.ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    t.equal(refused, 403, 'cross-origin upgrade refused with 403');
    for (const origin of [undefined, 'https://console.example.com', new URL(stack.apiUrl).origin]) {
      const ok = open(stack, { token: stack.adminToken, origin });
      await ok.next((m) => m.type === 'ready');
      t.pass(`origin ${origin ?? '(none)'} admitted`);
      ok.ws.close();
      await ok.closed;
    }
  },
);

t.test(
  'a subscribe sent right after a first-message auth (before ready) is processed, in order',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await withEchoTemplate(stack);
    const { run } = await stack.client.runs.create({ template: 'echo', params: { message: 'x' } });
    for (let i = 0; i < 5; i++) {
      const s = open(stack);
      await once(s.ws, 'open');
      s.ws.send(JSON.stringify({ type: 'auth', token: stack.adminToken }));
      s.ws.send(JSON.stringify({ type: 'subscribe', topic: 'run', run_id: run.id }));
      s.ws.send(JSON.stringify({ type: 'subscribe', topic: 'runs' }));
      await s.next((m) => m.type === 'subscribed' && m.topic === 'runs');
      t.same(
        s.messages
          .filter((m) => m.type !== 'event')
          .map((m) => (m.type === 'subscribed' ? `subscribed:${m.topic}` : m.type)),
        ['ready', 'subscribed:run', 'subscribed:runs'],
        `attempt ${i + 1}: ready, then both subscriptions in the order sent`,
      );
      s.ws.close();
      await s.closed;
    }
  },
);
