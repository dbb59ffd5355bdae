import type { SwaggerOptions } from '@fastify/swagger';
import { ClientMessage, ServerMessage } from '@ocr/contracts';

type OpenApiDocument = Record<string, unknown> & {
  paths?: Record<string, Record<string, Record<string, unknown>>>;
  components?: { schemas?: Record<string, unknown> };
};

/**
 * A schema as a component: a nested schema that is a component already (same `$id`) becomes a `$ref` to it,
 * and no `$id` stays (a component is named by its key; a nested `$id` would start a new base URI).
 */
function component(schema: object, known: Set<string>): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(schema, (key, value: unknown) => {
      if (key === '$id') return undefined;
      const id = (value as { $id?: unknown } | null)?.$id;
      if (key !== '' && typeof id === 'string' && known.has(id))
        return { $ref: `#/components/schemas/${id}` };
      return value;
    }),
  ) as Record<string, unknown>;
}

/**
 * The stream's part of the document. OpenAPI has no words for WebSocket messages, so the two message
 * unions are components and the `/v1/stream` operation points at them (`x-websocket`), besides its 101.
 */
function describeStream(doc: OpenApiDocument): OpenApiDocument {
  doc.components = doc.components ?? {};
  const known = new Set(Object.keys(doc.components.schemas ?? {}));
  doc.components.schemas = {
    ...doc.components.schemas,
    StreamClientMessage: component(ClientMessage, known),
    StreamServerMessage: component(ServerMessage, known),
  };
  const get = doc.paths?.['/v1/stream']?.get;
  if (get) {
    get['x-websocket'] = {
      client: { $ref: '#/components/schemas/StreamClientMessage' },
      server: { $ref: '#/components/schemas/StreamServerMessage' },
    };
    const responses = (get.responses ?? {}) as Record<string, unknown>;
    get.responses = {
      101: {
        description:
          'Switching Protocols: the WebSocket is open. Every frame is one JSON message: the client sends ' +
          'StreamClientMessage, the server StreamServerMessage.',
      },
      ...responses,
    };
  }
  return doc;
}

/**
 * `@fastify/swagger` options: an OpenAPI 3.1 document (the contracts are JSON Schema 2020-12, which 3.1
 * takes as they are; 3.0 would reject numeric `exclusiveMinimum`), components named by their `$id`
 * instead of `def-N`, and the stream's message schemas.
 */
export const openApiOptions: SwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Ops Control Room API',
      version: '0.1.0',
      description: 'Queue API, worker protocol and realtime stream',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
  },
  refResolver: {
    buildLocalReference: (json, _baseUri, _fragment, i) =>
      typeof json.$id === 'string' ? json.$id : `def-${i}`,
  },
  transformObject: (documents) =>
    'openapiObject' in documents
      ? (describeStream(documents.openapiObject as OpenApiDocument) as typeof documents.openapiObject)
      : documents.swaggerObject,
};
