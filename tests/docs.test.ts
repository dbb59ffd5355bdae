/**
 * The docs say what the code does, where a machine can tell: every environment variable in
 * docs/operator.md is read by a config schema and every schema variable is documented there; every route
 * docs/api.md names is served by the API.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import t from 'tap';
import { ApiConfigSchema } from '@ocr/api';
import { SweeperConfigSchema } from '@ocr/sweeper';
import { startStack } from '@ocr/testkit';
import { WorkerConfigSchema } from '@ocr/worker';
import { DevConfigSchema } from '../packages/cli/src/dev-config.js';

const DOCS = resolve(import.meta.dirname, '../docs');
const read = (name: string) => readFileSync(resolve(DOCS, name), 'utf8');

t.test('docs/operator.md and the config schemas name the same variables', async (t) => {
  const schemas = {
    api: ApiConfigSchema,
    worker: WorkerConfigSchema,
    sweeper: SweeperConfigSchema,
    dev: DevConfigSchema,
  };
  const inSchemas = new Set(Object.values(schemas).flatMap((schema) => Object.keys(schema.properties)));
  // Variables: OCR_*, DATABASE_URL, PORT, HOST (not a prefix such as `OCR_S3_*`).
  const documented = new Set(
    read('operator.md')
      .match(/\b(?:OCR_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL)\b|`(?:PORT|HOST)`/g)!
      .map((m) => m.replaceAll('`', '')),
  );
  t.ok(documented.size > 20, `${documented.size} variables documented`);
  t.same(
    [...documented].filter((name) => !inSchemas.has(name)).sort(),
    [],
    'every documented variable is read by a config schema',
  );
  t.same(
    [...inSchemas].filter((name) => !documented.has(name)).sort(),
    [],
    'every schema variable is documented in docs/operator.md',
  );
});

t.test('every route docs/api.md names is served', async (t) => {
  const stack = await startStack(t, { s3: false });
  const routes = [...new Set(read('api.md').match(/\b(?:GET|POST|PUT|PATCH|DELETE) \/[\w/:.-]*/g)!)];
  t.ok(routes.length >= 15, `${routes.length} routes documented`);
  for (const route of routes) {
    const [method, url] = route.split(' ') as [string, string];
    t.ok(stack.api.app.hasRoute({ method: method as 'GET', url: url.replace(/[.]$/, '') }), route);
  }
});
