import Type, { type Static } from 'typebox';
import { AfterSeq, Uuid } from './common.js';
import { Lane } from './admin.js';
import { Run, RunEvent } from './runs.js';

const strict = { additionalProperties: false } as const;

/** Messages a client sends on /v1/stream. */
export const ClientMessage = Type.Union(
  [
    Type.Object({ type: Type.Literal('auth'), token: Type.String({ minLength: 1, maxLength: 500 }) }, strict),
    Type.Object(
      {
        type: Type.Literal('subscribe'),
        topic: Type.Literal('run'),
        run_id: Uuid,
        after_seq: Type.Optional(AfterSeq),
        /** `events` messages (many events each) instead of one `event` message per event. */
        batch: Type.Optional(Type.Boolean()),
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
  ],
  { $id: 'StreamClientMessage', description: 'A message a client sends on the /v1/stream WebSocket' },
);
export type ClientMessage = Static<typeof ClientMessage>;

/** Error codes only the stream sends: `resync_required` asks a slow consumer to resubscribe from its last seq. */
export const STREAM_ERROR_CODES = ['resync_required'] as const;

/** Most serialized bytes of event data in one `events` message (one larger event goes alone). */
export const STREAM_BATCH_BYTES = 256 * 1024;

/**
 * Messages the server sends on /v1/stream: `ready` (authenticated), `subscribed`, `event` (one run event),
 * `events` (several, in seq order, for a run subscribed with `batch: true`),
 * `run` (a run's new state, topic `runs`), `lanes` (a snapshot, topic `lanes`), `error` (`unauthorized`,
 * `forbidden`, `validation_failed`, `internal`, or `resync_required`: resubscribe from your last seq), `pong`.
 */
export const ServerMessage = Type.Union(
  [
    Type.Object({ type: Type.Literal('ready'), role: Type.String() }),
    Type.Object({
      type: Type.Literal('subscribed'),
      topic: Type.String(),
      run_id: Type.Optional(Type.String()),
    }),
    Type.Object({ type: Type.Literal('event'), run_id: Type.String(), event: RunEvent }),
    Type.Object({ type: Type.Literal('events'), run_id: Type.String(), events: Type.Array(RunEvent) }),
    Type.Object({ type: Type.Literal('run'), run: Run }),
    Type.Object({ type: Type.Literal('lanes'), lanes: Type.Array(Lane) }),
    Type.Object({
      type: Type.Literal('error'),
      error: Type.Object({
        code: Type.String({ description: 'an HTTP error code or resync_required' }),
        message: Type.String(),
        run_id: Type.Optional(Type.String()),
      }),
    }),
    Type.Object({ type: Type.Literal('pong') }),
  ],
  { $id: 'StreamServerMessage', description: 'A message the server sends on the /v1/stream WebSocket' },
);
export type ServerMessage = Static<typeof ServerMessage>;
