import Type, { type Static } from 'typebox';
import { AfterSeq, Uuid } from './common.js';

const strict = { additionalProperties: false } as const;

/** Messages a client sends on /v1/stream. */
export const ClientMessage = Type.Union([
  Type.Object({ type: Type.Literal('auth'), token: Type.String({ minLength: 1, maxLength: 500 }) }, strict),
  Type.Object(
    {
      type: Type.Literal('subscribe'),
      topic: Type.Literal('run'),
      run_id: Uuid,
      after_seq: Type.Optional(AfterSeq),
    },
    strict,
  ),
  Type.Object(
    { type: Type.Literal('subscribe'), topic: Type.Union([Type.Literal('runs'), Type.Literal('lanes')]) },
    strict,
  ),
  Type.Object({ type: Type.Literal('unsubscribe'), topic: Type.Literal('run'), run_id: Uuid }, strict),
  Type.Object(
    { type: Type.Literal('unsubscribe'), topic: Type.Union([Type.Literal('runs'), Type.Literal('lanes')]) },
    strict,
  ),
  Type.Object({ type: Type.Literal('ping') }, strict),
]);
export type ClientMessage = Static<typeof ClientMessage>;

/**
 * Messages the server sends: `{type:"event", run_id, event}`, `{type:"run", run}`, `{type:"lanes", lanes}`,
 * `{type:"subscribed", topic, run_id?}`, `{type:"error", error:{code, message}}` (`resync_required` tells a
 * slow consumer to resubscribe from its last seq), `{type:"pong"}`.
 */
export type ServerMessage =
  | { type: 'ready'; role: string }
  | { type: 'subscribed'; topic: string; run_id?: string }
  | { type: 'event'; run_id: string; event: unknown }
  | { type: 'run'; run: unknown }
  | { type: 'lanes'; lanes: unknown[] }
  | { type: 'error'; error: { code: string; message: string; run_id?: string } }
  | { type: 'pong' };
