import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  addRunSpecDocs,
  getArtifact,
  getTemplate,
  leasedRun,
  latestSpecDocContents,
  type RunRow,
} from '@ocr/db';
import {
  ArtifactInput,
  ErrorResponses,
  IdParams,
  ReadArtifactInput,
  ReadSpecDocsInput,
  SpecDocsResponse,
  StoreSpecDocs,
} from '@ocr/contracts';
import { apiError, leaseLost, notFound } from '../errors.js';
import { artifactToWire, specDocToWire } from '../serialize.js';

const worker = { role: 'worker' as const };

/** Every string value inside a JSON value. */
function stringsIn(value: unknown, out = new Set<string>()): Set<string> {
  if (typeof value === 'string') out.add(value);
  else if (Array.isArray(value)) for (const item of value) stringsIn(item, out);
  else if (value !== null && typeof value === 'object')
    for (const item of Object.values(value)) stringsIn(item, out);
  return out;
}

/**
 * The Spec Kit's part of the worker protocol: store a run's documents as `spec_docs` versions, and read
 * the inputs of a validation (an earlier run's artifact, a project's documents). All fenced by the lease.
 *
 * Why reads go through these routes rather than giving the worker role the viewer's read access: a worker
 * token is held by every pod of an autoscaled fleet running arbitrary steps, so it must not be able to
 * browse every run's artifacts. Here it can read only what the run it currently holds names as input —
 * a value of the run's params or of its template's steps, both chosen by an operator who can read them
 * anyway — and only while its lease is current. Object content is never proxied: the answer carries a
 * short-lived presigned URL, so the worker still holds no bucket credentials.
 */
export async function workerSpecKitRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  /** The run, if this lease is current; otherwise 409 lease_lost or 404. */
  const leased = async (runId: string, leaseToken: string): Promise<RunRow> => {
    const lease = await leasedRun(app.db, { runId, leaseToken });
    if (lease.ok) return lease.value;
    throw lease.reason === 'lease_lost' ? leaseLost(runId, lease) : notFound('run');
  };
  /** Refuse an input the run does not name in its params or its template's steps. */
  const mustName = async (run: RunRow, value: string, what: string, field: string): Promise<void> => {
    const template = await getTemplate(app.db, run.template, run.template_version);
    const named = stringsIn(
      run.params,
      stringsIn((template?.definition as { steps?: unknown } | undefined)?.steps),
    );
    if (!named.has(value))
      throw apiError(
        'forbidden',
        `${field}: ${what} ${value} is not an input of run ${run.id} (name it in the run's params or the template's steps)`,
      );
  };

  app.post(
    '/v1/runs/:id/spec-docs',
    {
      config: worker,
      schema: {
        tags: ['worker protocol'],
        summary: "Store a run's Spec Kit documents as new spec_docs versions",
        params: IdParams,
        body: StoreSpecDocs,
        response: { 201: SpecDocsResponse, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const body = request.body;
      const result = await addRunSpecDocs(app.db, {
        runId: id,
        leaseToken: body.lease_token,
        project: body.project,
        docs: body.docs,
      });
      if (!result.ok) {
        if (result.reason === 'lease_lost') throw leaseLost(id);
        if (result.reason === 'not_found') throw notFound('run');
        const field = `docs.${result.index}.artifact_id`;
        throw apiError('validation_failed', `${field}: not an artifact of run ${id}`, [
          { field, message: 'not an artifact of this run' },
        ]);
      }
      return reply.code(201).send({ spec_docs: result.docs.map(specDocToWire) });
    },
  );

  app.post(
    '/v1/runs/:id/inputs/spec-docs',
    {
      config: worker,
      schema: {
        tags: ['worker protocol'],
        summary: 'The latest spec_docs of a project the run names as input',
        params: IdParams,
        body: ReadSpecDocsInput,
        response: { 200: SpecDocsResponse, ...ErrorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const body = request.body;
      const run = await leased(id, body.lease_token);
      await mustName(run, body.project, 'project', 'project');
      return { spec_docs: (await latestSpecDocContents(app.db, body.project)).map(specDocToWire) };
    },
  );

  app.post(
    '/v1/runs/:id/inputs/artifact',
    {
      config: worker,
      schema: {
        tags: ['worker protocol'],
        summary: 'Read an artifact the run names as input: inline content or a short-lived URL',
        params: IdParams,
        body: ReadArtifactInput,
        response: { 200: ArtifactInput, ...ErrorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const body = request.body;
      const run = await leased(id, body.lease_token);
      await mustName(run, body.artifact_id, 'artifact', 'artifact_id');
      const artifact = await getArtifact(app.db, body.artifact_id);
      if (!artifact) throw notFound('artifact');
      if (artifact.status !== 'ready') throw apiError('conflict', 'artifact upload is not complete');
      if (artifact.storage === 'inline')
        return { artifact: artifactToWire(artifact), content: artifact.content ?? '' };
      if (!app.storage) throw apiError('storage_unavailable', 'object storage is not configured');
      return {
        artifact: artifactToWire(artifact),
        download_url: await app.storage.downloadUrl(artifact.object_key!, artifact.name),
      };
    },
  );
}
