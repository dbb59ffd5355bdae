import type { FastifyInstance, FastifyRequest } from 'fastify';
import { getArtifact, runScopes } from '@ocr/db';
import { assertLane, assertRun, isScoped } from '../scope.js';

/** The runs a worker-protocol request touches, as its route names them (path id, batch items, artifact). */
async function runIdsOf(app: FastifyInstance, request: FastifyRequest): Promise<string[]> {
  const url = request.routeOptions.url ?? '';
  const params = request.params as { id?: string };
  const body = request.body as {
    leases?: { run_id: string }[];
    completions?: { run_id: string }[];
  } | null;
  if (url === '/v1/artifacts/:id/complete') {
    const artifact = params.id ? await getArtifact(app.db, params.id) : undefined;
    return artifact ? [artifact.run_id] : [];
  }
  if (url.startsWith('/v1/runs/:id/')) return params.id ? [params.id] : [];
  return [...(body?.leases ?? []), ...(body?.completions ?? [])].map((item) => item.run_id);
}

/**
 * A worker token limited to lanes claims only from them and writes only to their runs: a claim naming
 * another lane is refused whole (403 out_of_scope, nothing registered), and so is any fenced write to a
 * run of another lane, even with a valid lease. Unscoped tokens cost nothing here (no extra lookup).
 */
export function enforceWorkerScope(app: FastifyInstance): void {
  app.addHook('preHandler', async (request) => {
    const scope = request.principal;
    if (!scope || !isScoped(scope)) return;
    if (request.routeOptions.url === '/v1/runs/claim') {
      for (const lane of (request.body as { lanes: string[] }).lanes) assertLane(scope, lane, 'lanes');
      return;
    }
    for (const run of await runScopes(app.db, await runIdsOf(app, request))) assertRun(scope, run);
  });
}
