import Type, { type Static } from 'typebox';
import { loadConfig } from '@ocr/runtime';

/**
 * What `ocr dev` reads on top of the services' own variables (it passes its environment on to the API,
 * the worker and the sweeper, which validate theirs).
 */
export const DevConfigSchema = Type.Object({
  OCR_HOME: Type.Optional(Type.String({ minLength: 1 })),
  OCR_WORKER_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  OCR_SWEEPER_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  OCR_S3_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
});

export type DevConfig = Static<typeof DevConfigSchema>;

/** Parse `ocr dev`'s own variables; every bad one reported on its own line. */
export function loadDevConfig(env: Record<string, string | undefined> = process.env): Readonly<DevConfig> {
  return loadConfig(DevConfigSchema, env);
}
