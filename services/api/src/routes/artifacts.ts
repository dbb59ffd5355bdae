import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { getArtifact, getRun, type ArtifactRow } from '@ocr/db';
import { ArtifactWithUrl, ErrorResponses, IdParams } from '@ocr/contracts';
import { apiError, notFound } from '../errors.js';
import { artifactToWire } from '../serialize.js';
import { assertRun, isScoped } from '../scope.js';

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
