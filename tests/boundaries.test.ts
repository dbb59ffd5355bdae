/**
 * The architecture's boundaries, enforced in `npm test`: the whole tree passes ESLint (SQL only in
 * packages/db, no warnings), dependency-cruiser (no service importing another, no package importing a
 * service, no test reaching into another workspace's tests, no cycles) and the workspace-manifest check,
 * with zero findings. Each rule is also shown to fire on a small tree that breaks it.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import t from 'tap';
import { checkWorkspaces } from '../scripts/check-workspaces.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'node_modules', '.bin');

function run(cmd: string, args: string[], cwd = ROOT, input?: string) {
  const result = spawnSync(join(BIN, cmd), args, {
    cwd,
    encoding: 'utf8',
    input,
    maxBuffer: 32 * 1024 * 1024,
  });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

function tree(t: { teardown(fn: () => void): void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ocr-boundaries-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

t.test('the tree has zero findings', async (t) => {
  const eslint = run('eslint', ['--max-warnings', '0', '.']);
  t.equal(eslint.code, 0, eslint.out);
  const cruise = run('depcruise', [
    'packages',
    'services',
    'tests',
    'scripts',
    'bench',
    'faults',
    '--config',
    '.dependency-cruiser.cjs',
  ]);
  t.equal(cruise.code, 0, cruise.out);
  t.match(cruise.out, /no dependency violations found \(\d+ modules, \d+ dependencies cruised\)/);
  t.same(checkWorkspaces(), []);
});

t.test('dependency-cruiser fires on each forbidden import', async (t) => {
  const dir = tree(t, {
    'services/api/src/index.ts':
      "import { claim } from '../../worker/src/index.js';\nexport const api = claim;\n",
    'services/worker/src/index.ts': 'export const claim = 1;\n',
    'packages/db/src/index.ts':
      "import { api } from '../../../services/api/src/index.js';\nexport const db = api;\n",
    'packages/cli/src/index.ts':
      "import { api } from '../../../services/api/src/index.js';\nexport const cli = api;\n",
    'services/api/test/helpers.ts': "export { helper } from '../../worker/test/helpers.js';\n",
    'services/worker/test/helpers.ts': 'export const helper = 1;\n',
    'tests/console/helpers.ts': "export { helper } from '../../services/worker/test/helpers.js';\n",
    'services/worker/src/a.ts': "import type { B } from './b.js';\nexport type A = { b?: B };\n",
    'services/worker/src/b.ts': "import type { A } from './a.js';\nexport type B = { a?: A };\n",
  });
  cpSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  const result = run(
    'depcruise',
    ['packages', 'services', 'tests', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
    dir,
  );
  t.not(result.code, 0, 'exits non-zero');
  t.match(
    result.out,
    'service-imports-another-service: services/api/src/index.ts → services/worker/src/index.ts',
  );
  t.match(result.out, 'package-imports-a-service: packages/db/src/index.ts → services/api/src/index.ts');
  t.notMatch(result.out, 'package-imports-a-service: packages/cli/', 'the ocr binary composes the services');
  t.match(
    result.out,
    'test-reaches-into-another-workspace-tests: services/api/test/helpers.ts → services/worker/test/helpers.ts',
  );
  t.match(
    result.out,
    'cross-service-tests-reach-into-workspace-tests: tests/console/helpers.ts → services/worker/test/helpers.ts',
  );
  t.match(
    result.out,
    /import-cycle: services\/worker\/src\/a\.ts →\s+services\/worker\/src\/b\.ts →\s+services\/worker\/src\/a\.ts/,
    'a type-only cycle counts',
  );
});

t.test('ESLint refuses SQL outside packages/db, and allows types', async (t) => {
  const bad = "import pg from 'pg';\nimport { sql } from 'kysely';\nexport const q = [pg, sql];\n";
  const inService = run('eslint', ['--stdin', '--stdin-filename', 'services/api/src/bad.ts'], ROOT, bad);
  t.not(inService.code, 0);
  t.equal(inService.out.match(/SQL lives in packages\/db/g)?.length, 2, inService.out);
  const inDb = run('eslint', ['--stdin', '--stdin-filename', 'packages/db/src/fine.ts'], ROOT, bad);
  t.equal(inDb.code, 0, inDb.out);
  const types =
    "import type pg from 'pg';\nimport type { Kysely } from 'kysely';\nexport type X = [pg.Pool, Kysely<unknown>];\n";
  const typesOnly = run('eslint', ['--stdin', '--stdin-filename', 'services/api/src/types.ts'], ROOT, types);
  t.equal(typesOnly.code, 0, typesOnly.out);
});

t.test(
  'workspace manifests: undeclared, unused and missing exports, and exports without a build, are findings',
  async (t) => {
    const dir = tree(t, {
      'packages/db/package.json': JSON.stringify({
        name: '@ocr/db',
        exports: { '.': { 'ocr-compiled': './dist/index.js', default: './src/index.ts' } },
        dependencies: { '@ocr/runtime': '*' },
      }),
      'packages/db/src/index.ts': "import { x } from '@ocr/contracts';\nexport const y = x;\n",
      'packages/db/test/a.test.ts': "import '@ocr/testkit';\n",
      'packages/console/package.json': JSON.stringify({
        name: '@ocr/console',
        exports: { '.': './src/index.ts' },
      }),
      'services/api/package.json': JSON.stringify({
        name: '@ocr/api',
        exports: { '.': { 'ocr-compiled': './dist/index.js', default: './src/index.ts' } },
        dependencies: { '@ocr/db': '*' },
      }),
      'services/api/src/index.ts': "export * from '@ocr/db';\n",
    });
    t.same(checkWorkspaces(dir).sort(), [
      'packages/console/package.json: exports . only as ./src/index.ts; add "ocr-compiled": "./dist/index.js" (npm run build)',
      'packages/console/package.json: exports ./src/index.ts, which does not exist',
      'packages/db/package.json: declares @ocr/runtime in dependencies but its sources never import it',
      'packages/db/package.json: its sources import @ocr/contracts; add it to dependencies',
      'packages/db/package.json: its tests import @ocr/testkit; add it to devDependencies',
    ]);
  },
);
