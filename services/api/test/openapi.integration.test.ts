import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import SwaggerParser from '@apidevtools/swagger-parser';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { ERROR_CODES } from '@ocr/contracts';
import { startStack } from '@ocr/testkit';

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { schemas: Record<string, unknown> };
}

/** Type errors of a strict compile of `files` (names relative to `dir`), one line each. */
function compile(dir: string, files: string[]): string[] {
  const program = ts.createProgram(
    files.map((f) => join(dir, f)),
    {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: [],
    },
  );
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

t.test('the OpenAPI document is valid 3.1 and a generated TypeScript client compiles', async (t) => {
  const stack = await startStack(t, { s3: false });
  const doc = (await (await fetch(`${stack.apiUrl}/docs/json`)).json()) as Doc;
  t.equal(doc.openapi, '3.1.0');
  // The standard validator rejected the old 3.0 document (numeric exclusiveMinimum) with 102 errors.
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), 'swagger-parser accepts it');

  const text = JSON.stringify(doc);
  for (const code of Object.keys(ERROR_CODES)) t.match(text, `"${code}"`, `error code ${code} is in it`);
  t.notOk(/"def-\d+"/.test(text), 'components are named by their $id, not def-N');

  const stream = doc.paths['/v1/stream']?.get;
  t.ok(stream, '/v1/stream is described');
  t.same(stream?.['x-websocket'], {
    client: { $ref: '#/components/schemas/StreamClientMessage' },
    server: { $ref: '#/components/schemas/StreamServerMessage' },
  });
  t.ok((stream?.responses as Record<string, unknown>)['101'], 'the upgrade answer is listed');
  for (const name of ['StreamClientMessage', 'StreamServerMessage', 'Run', 'RunEvent', 'Template'])
    t.ok(doc.components.schemas[name], `component ${name}`);

  const dir = await mkdtemp(join(tmpdir(), 'ocr-openapi-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'api.ts'), astToString(await openapiTS(doc as never)));
  // A consumer that leans on the generated types: request bodies, answers, error codes, stream messages.
  await writeFile(
    join(dir, 'consumer.ts'),
    `import type { paths, components } from './api.js';
type CreateRun = paths['/v1/runs']['post']['requestBody']['content']['application/json'];
type Created = paths['/v1/runs']['post']['responses']['201']['content']['application/json'];
type ErrorCode = paths['/v1/runs']['post']['responses']['409']['content']['application/json']['error']['code'];
type ServerMessage = components['schemas']['StreamServerMessage'];
export const body: CreateRun = { template: 'echo', params: { message: 'hi' } };
export const code: ErrorCode = 'idempotency_conflict';
export function status(created: Created): string { return created.run.status; }
export function seqOf(message: ServerMessage): number | undefined {
  return message.type === 'event' ? message.event.seq : undefined;
}
// @ts-expect-error an error code that does not exist is refused
export const wrong: ErrorCode = 'no_such_code';
`,
  );
  t.same(compile(dir, ['api.ts', 'consumer.ts']), [], 'the generated client and its consumer compile');
});
