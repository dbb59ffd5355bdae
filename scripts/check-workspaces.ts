/**
 * Workspace manifests are true: every `@ocr/*` import is declared in the importing workspace's
 * package.json (sources in `dependencies`, tests in `dependencies` or `devDependencies`), every declared
 * `@ocr/*` dependency is used, and every `exports` target exists. Prints one line per finding; exits 1
 * when there is any. Part of `npm run lint` and of `npm test` (tests/boundaries.test.ts).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');
const IMPORT = /(?:from\s+|import\s*\(\s*|^\s*import\s+)['"](@ocr\/[a-z0-9-]+)(?:\/[^'"]*)?['"]/gm;

interface Manifest {
  name: string;
  exports?: string | Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ts|tsx|js|mjs)$/.test(f) && !f.includes('node_modules') && !f.startsWith('dist'))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

function importsIn(paths: string[]): Set<string> {
  const found = new Set<string>();
  for (const path of paths)
    for (const match of readFileSync(path, 'utf8').matchAll(IMPORT)) found.add(match[1]!);
  return found;
}

/**
 * The files `exports` names that must exist in a checkout. A target under the `ocr-compiled` condition
 * is `npm run build` output (dist/, not committed): its source (`./dist/x.js` → `./src/x.ts`) must exist.
 */
function exportTargets(exports: Manifest['exports']): string[] {
  if (exports === undefined) return [];
  if (typeof exports === 'string') return [exports];
  return Object.values(exports).flatMap((v) =>
    typeof v === 'string'
      ? [v]
      : Object.entries(v).map(([condition, target]) =>
          condition === 'ocr-compiled'
            ? target.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts')
            : target,
        ),
  );
}

/** Every finding across the workspaces, one line each (empty: the manifests are true). */
export function checkWorkspaces(root = ROOT): string[] {
  const workspaces = ['packages', 'services'].flatMap((group) =>
    readdirSync(join(root, group))
      .map((name) => join(group, name))
      .filter((dir) => existsSync(join(root, dir, 'package.json'))),
  );
  const problems: string[] = [];
  for (const dir of workspaces) {
    const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest;
    const deps = new Set(Object.keys(manifest.dependencies ?? {}).filter((d) => d.startsWith('@ocr/')));
    const devDeps = new Set(Object.keys(manifest.devDependencies ?? {}).filter((d) => d.startsWith('@ocr/')));
    const production = files(join(root, dir, 'src'));
    // A workspace's top-level modules (e.g. packages/console/location.ts) are production code too.
    for (const entry of readdirSync(join(root, dir)))
      if (/\.(ts|js|mjs)$/.test(entry) && !/\.config\./.test(entry)) production.push(join(root, dir, entry));
    const fromSrc = importsIn(production);
    const fromTests = importsIn(files(join(root, dir, 'test')));
    for (const name of fromSrc)
      if (name !== manifest.name && !deps.has(name))
        problems.push(`${dir}/package.json: its sources import ${name}; add it to dependencies`);
    for (const name of fromTests)
      if (name !== manifest.name && !deps.has(name) && !devDeps.has(name))
        problems.push(`${dir}/package.json: its tests import ${name}; add it to devDependencies`);
    for (const name of deps)
      if (!fromSrc.has(name))
        problems.push(
          `${dir}/package.json: declares ${name} in dependencies but its sources never import it`,
        );
    for (const name of devDeps)
      if (!fromTests.has(name))
        problems.push(
          `${dir}/package.json: declares ${name} in devDependencies but its tests never import it`,
        );
    // Production runs `npm run build` output (the ocr-compiled condition): an export only to sources
    // would make plain node load TypeScript. The test kit is the one development-only workspace.
    if (manifest.name !== '@ocr/testkit' && manifest.exports && typeof manifest.exports === 'object')
      for (const [path, target] of Object.entries(manifest.exports))
        if (typeof target === 'string' && target.startsWith('./src/'))
          problems.push(
            `${dir}/package.json: exports ${path} only as ${target}; add "ocr-compiled": "${target.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '.js')}" (npm run build)`,
          );
    for (const target of exportTargets(manifest.exports))
      if (!existsSync(join(root, dir, target)))
        problems.push(`${dir}/package.json: exports ${target}, which does not exist`);
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = checkWorkspaces();
  for (const problem of problems) process.stderr.write(`${problem}\n`);
  process.exit(problems.length ? 1 : 0);
}
