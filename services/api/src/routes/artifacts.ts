import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { getArtifact } from '@ocr/db';
import { ArtifactWithUrl, ErrorResponses, IdParams } from '@ocr/contracts';
import { apiError, notFound } from '../errors.js';
import { artifactToWire } from '../serialize.js';

/** Reading artifacts: metadata with a short-lived download URL, or the content (inline, or a redirect). */
export async function artifactRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
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
      const artifact = await getArtifact(app.db, request.params.id);
      if (!artifact) throw notFound('artifact');
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
      const artifact = await getArtifact(app.db, request.params.id);
      if (!artifact) throw notFound('artifact');
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
