/**
 * Builds the publishable SDK from packages/client into packages/client/publish/: ES modules and `.d.ts`
 * (tsc), a package.json with an exports map and no workspace dependency, the README and the CHANGELOG.
 * `npm pack packages/client/publish` (or `npm publish` there) ships it. The SDK's types are generated
 * from the OpenAPI document (scripts/generate-client-types.ts), so nothing of the monorepo is needed at
 * run time or for type checking.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');
const CLIENT = join(ROOT, 'packages/client');
/** Where the publishable package is assembled. */
export const SDK_DIR = join(CLIENT, 'publish');

interface Manifest {
  name: string;
  version: string;
  description?: string;
  license?: string;
  dependencies?: Record<string, string>;
}

/** Build the SDK into `SDK_DIR`; throws with tsc's output when it does not compile. */
export function buildSdk(): string {
  rmSync(SDK_DIR, { recursive: true, force: true });
  const tsc = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(CLIENT, 'tsconfig.sdk.json')],
    { encoding: 'utf8' },
  );
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  const source = JSON.parse(readFileSync(join(CLIENT, 'package.json'), 'utf8')) as Manifest;
  const external = Object.entries(source.dependencies ?? {}).filter(([name]) => !name.startsWith('@ocr/'));
  if (external.length !== Object.keys(source.dependencies ?? {}).length)
    throw new Error('packages/client may not depend on another workspace: the SDK is published alone');
  const manifest = {
    name: source.name,
    version: source.version,
    description: source.description,
    license: source.license,
    type: 'module',
    engines: { node: '>=20' },
    sideEffects: false,
    main: './dist/index.js',
    types: './dist/index.d.ts',
    exports: {
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './package.json': './package.json',
    },
    files: ['dist', 'README.md', 'CHANGELOG.md'],
    dependencies: Object.fromEntries(external),
  };
  mkdirSync(SDK_DIR, { recursive: true });
  writeFileSync(join(SDK_DIR, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  for (const file of ['README.md', 'CHANGELOG.md']) copyFileSync(join(CLIENT, file), join(SDK_DIR, file));
  return SDK_DIR;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`built ${buildSdk()}\n`);
}
