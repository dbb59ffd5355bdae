import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { getArtifact, getRun, searchArtifacts, type ArtifactRow } from '@ocr/db';
import {
  ArtifactSearchList,
  ArtifactSearchQuery,
  ArtifactWithUrl,
  ErrorResponses,
  IdParams,
} from '@ocr/contracts';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { apiError, notFound } from '../errors.js';
import { artifactToWire } from '../serialize.js';
import { assertLane, assertRun, assertTemplate, isScoped } from '../scope.js';

/** Reading artifacts: metadata with a short-lived download URL, or the content (inline, or a redirect). */
export async function artifactRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  /** The artifact, if it exists and its run is in the token's scope (404, 403 out_of_scope otherwise). */
  const artifactInScope = async (request: FastifyRequest, id: string): Promise<ArtifactRow> => {
    const artifact = await getArtifact(app.db, id);
    if (!artifact) throw notFound('artifact');
    if (isScoped(request.principal!)) {
      const run = await getRun(app.db, artifact.run_id);
      if (run) assertRun(request.principal!, run);
    }
    return artifact;
  };
  app.get(
    '/v1/artifacts',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['artifacts'],
        summary: 'Search artifacts across runs (newest first, keyset-paged)',
        querystring: ArtifactSearchQuery,
        response: { 200: ArtifactSearchList, ...ErrorResponses },
      },
    },
    async (request) => {
      const query = request.query;
      if (query.min_size !== undefined && query.max_size !== undefined && query.min_size > query.max_size) {
        throw apiError('validation_failed', 'query.min_size: is greater than max_size', [
          { field: 'query.min_size', message: 'must not be greater than max_size' },
        ]);
      }
      // A scoped token sees only artifacts of its lanes' and templates' runs; naming another is a 403.
      const scope = request.principal!;
      if (query.lane) assertLane(scope, query.lane, 'query.lane');
      if (query.template) assertTemplate(scope, query.template, 'query.template');
      const limit = query.limit ?? 50;
      const rows = await searchArtifacts(app.db, {
        ...query,
        ...(scope.lanes ? { lanes: scope.lanes } : {}),
        ...(scope.templates ? { templates: scope.templates } : {}),
        limit: limit + 1,
        cursor: query.cursor ? decodeCursor(query.cursor) : undefined,
      });
      const page = rows.slice(0, limit);
      return {
        artifacts: page.map((a) => ({ ...artifactToWire(a), template: a.template, lane: a.lane })),
        next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : null,
      };
    },
  );

  app.get(
    '/v1/artifacts/:id',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['artifacts'],
        summary: 'Metadata and a short-lived download URL',
        params: IdParams,
        response: { 200: ArtifactWithUrl, ...ErrorResponses },
      },
    },
    async (request) => {
      const artifact = await artifactInScope(request, request.params.id);
      const url =
        artifact.storage === 's3' && artifact.status === 'ready' && app.storage
          ? await app.storage.downloadUrl(artifact.object_key!, artifact.name)
          : artifact.storage === 'inline'
            ? `/v1/artifacts/${artifact.id}/content`
            : null;
      return { artifact: artifactToWire(artifact), download_url: url };
    },
  );

  app.get(
    '/v1/artifacts/:id/content',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['artifacts'],
        summary: 'Inline content, or a redirect to a signed URL',
        params: IdParams,
      },
    },
    async (request, reply) => {
      const artifact = await artifactInScope(request, request.params.id);
      if (artifact.status !== 'ready') throw apiError('conflict', 'artifact upload is not complete');
      if (artifact.storage === 'inline') {
        // Served as an attachment-safe type: never let stored content run as HTML on the console's origin.
        const type = artifact.content_type.startsWith('text/html')
          ? 'text/plain; charset=utf-8'
          : artifact.content_type;
        return reply.header('x-content-type-options', 'nosniff').type(type).send(artifact.content);
      }
      if (!app.storage) throw apiError('storage_unavailable', 'object storage is not configured');
      return reply.redirect(await app.storage.downloadUrl(artifact.object_key!, artifact.name), 302);
    },
  );
}
