import Type from 'typebox';

export const Uuid = Type.String({ format: 'uuid', description: 'UUID' });
export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
/** Lane names, as the API accepts them (workers check `OCR_LANES` against the same rule at start). */
export const LANE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$';
export const LaneName = Type.String({ pattern: LANE_NAME_PATTERN, description: 'lane name' });
export const TemplateName = Type.String({
  pattern: '^[a-z0-9][a-z0-9_.-]{0,99}$',
  description: 'template name',
});
/** Run and session labels: keys of 1–100 characters (no line breaks), string values up to 500. */
export const Labels = Type.Record(
  Type.String({ pattern: '^[^\\r\\n]{1,100}$' }),
  Type.String({ maxLength: 500 }),
  {
    additionalProperties: false,
    maxProperties: 100,
  },
);
export const Role = Type.Union([
  Type.Literal('admin'),
  Type.Literal('operator'),
  Type.Literal('viewer'),
  Type.Literal('worker'),
]);
export const RunStatus = Type.Union([
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('success'),
  Type.Literal('error'),
  Type.Literal('cancelled'),
]);
export const Level = Type.Union([
  Type.Literal('debug'),
  Type.Literal('info'),
  Type.Literal('warn'),
  Type.Literal('error'),
]);
export const ArtifactKind = Type.Union([
  Type.Literal('text'),
  Type.Literal('markdown'),
  Type.Literal('json'),
  Type.Literal('diff'),
  Type.Literal('image'),
  Type.Literal('file'),
  Type.Literal('zip'),
]);
export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
export const NameParams = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100 }) },
  { additionalProperties: false },
);
export const Ok = Type.Object({ ok: Type.Boolean() });
/** The largest event seq a client may name: seqs are Postgres bigints, read as JavaScript numbers. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;
/** An event seq a client names (`after_seq`): a non-negative integer the database can compare. */
export const AfterSeq = Type.Integer({ minimum: 0, maximum: MAX_SEQ });
