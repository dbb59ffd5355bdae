import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { getRun, getRunSteps, laneStates, listArtifacts, readEvents, type RunRow } from '@ocr/db';
import { ErrorResponses, RunCompareQuery, RunComparison } from '@ocr/contracts';
import { apiError, notFound } from '../errors.js';
import { assertRun } from '../scope.js';
import { maskRunSecrets } from '../secret-params.js';
import { artifactToWire, runToWire } from '../serialize.js';

/** Log lines a comparison reads per run: enough for a side-by-side view, bounded for the API. */
const OUTPUT_LINES = 5000;

/** Two runs side by side: params, steps (status, duration, output) and artifacts matched by name. */
export async function runCompareRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const side = async (run: RunRow) => {
    const steps = await getRunSteps(app.db, run.id);
    const events = await readEvents(app.db, { runId: run.id, limit: OUTPUT_LINES + 1 });
    const last = new Map<string, (typeof steps)[number]>();
    for (const step of steps)
      if (step.attempt === run.attempt || !last.has(step.name)) last.set(step.name, step);
    const output = new Map<string, string[]>();
    for (const e of events.slice(0, OUTPUT_LINES)) {
      if (e.type !== 'log' || !e.step || e.attempt !== run.attempt) continue;
      output.set(e.step, [...(output.get(e.step) ?? []), e.message]);
    }
    return {
      steps: last,
      output,
      truncated: events.length > OUTPUT_LINES,
      artifacts: await listArtifacts(app.db, run.id),
    };
  };
  app.get(
    '/v1/runs/compare',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['runs'],
        summary: 'Compare two runs: params, steps side by side with their output, artifacts by name',
        querystring: RunCompareQuery,
        response: { 200: RunComparison, ...ErrorResponses },
      },
    },
    async (request) => {
      const rows = await Promise.all([getRun(app.db, request.query.a), getRun(app.db, request.query.b)]);
      if (!rows[0]) throw notFound('run a');
      if (!rows[1]) throw notFound('run b');
      for (const run of rows) assertRun(request.principal!, run!);
      // Steps and params are matched by name: across templates that pairing means nothing.
      if (rows[0]!.template !== rows[1]!.template)
        throw apiError(
          'validation_failed',
          `query.b: run b is of template ${rows[1]!.template}, run a of ${rows[0]!.template}; compare runs of one template`,
          [{ field: 'query.b', message: 'another template' }],
        );
      const [a, b] = await maskRunSecrets(app.db, rows as RunRow[]);
      const lanes = await laneStates(app.db, [a!.lane, b!.lane]);
      const [sa, sb] = await Promise.all([side(a!), side(b!)]);
      const pa = (a!.params ?? {}) as Record<string, unknown>;
      const pb = (b!.params ?? {}) as Record<string, unknown>;
      const keys = [...new Set([...Object.keys(pa), ...Object.keys(pb)])].sort();
      const stepSide = (s: typeof sa, name: string) => {
        const step = s.steps.get(name);
        if (!step) return null;
        return {
          status: step.status,
          duration_ms: step.finished_at ? step.finished_at.getTime() - step.started_at.getTime() : null,
          exit_code: step.exit_code,
          output: (s.output.get(name) ?? []).join('\n'),
        };
      };
      const names = [...new Set([...sa.steps.keys(), ...sb.steps.keys()])];
      const arts = (list: typeof sa.artifacts) => new Map(list.map((x) => [x.name, x]));
      const [aa, ab] = [arts(sa.artifacts), arts(sb.artifacts)];
      return {
        a: runToWire(a!, lanes.get(a!.lane)),
        b: runToWire(b!, lanes.get(b!.lane)),
        params: keys.map((key) => ({
          key,
          ...(key in pa ? { a: pa[key] } : {}),
          ...(key in pb ? { b: pb[key] } : {}),
          same: key in pa && key in pb && isDeepStrictEqual(pa[key], pb[key]),
        })),
        steps: names.map((name) => ({ name, a: stepSide(sa, name), b: stepSide(sb, name) })),
        artifacts: [...new Set([...aa.keys(), ...ab.keys()])].map((name) => {
          const x = aa.get(name);
          const y = ab.get(name);
          return {
            name,
            a: x ? artifactToWire(x) : null,
            b: y ? artifactToWire(y) : null,
            same: !!x && !!y && x.sha256 === y.sha256,
          };
        }),
        output_truncated: sa.truncated || sb.truncated,
      };
    },
  );
}
