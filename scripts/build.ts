/**
 * `npm run build`: the production build. Every workspace's `src/**\/*.ts` is transpiled file by file to
 * `dist/` (same layout, ES modules, source maps), so `import.meta.dirname` arithmetic and relative imports
 * hold in both trees; then the console is built with Vite. Types are checked by `npm run typecheck`, not
 * here: esbuild only strips them, which is why this takes seconds.
 *
 * Production selects the build with the `ocr-compiled` export condition (`node --conditions=ocr-compiled`;
 * the image sets it in NODE_OPTIONS). Without it every `@ocr/*` import resolves to `src/*.ts` as before,
 * so `npm start`, `npm test` and `tsc` never see `dist/`, stale or not.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
/** The condition that selects `dist/` in every workspace's `exports`. */
export const COMPILED_CONDITION = 'ocr-compiled';

/** Workspaces whose `src/` is compiled: every one with an `ocr-compiled` export (the console is Vite's). */
export function compiledWorkspaces(root = ROOT): string[] {
  return ['packages', 'services']
    .flatMap((group) => readdirSync(join(root, group)).map((name) => join(group, name)))
    .filter((dir) => {
      const manifest = join(root, dir, 'package.json');
      return existsSync(manifest) && readFileSync(manifest, 'utf8').includes(`"${COMPILED_CONDITION}"`);
    });
}

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(dir, f));
}

/** Transpile one workspace's `src/` into a fresh `dist/`; the number of modules written. */
export async function buildWorkspace(dir: string): Promise<number> {
  const src = join(dir, 'src');
  const out = join(dir, 'dist');
  rmSync(out, { recursive: true, force: true });
  const entryPoints = sources(src);
  await build({
    entryPoints,
    outdir: out,
    outbase: src,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
  return entryPoints.length;
}

async function main(): Promise<number> {
  const started = Date.now();
  let modules = 0;
  const workspaces = compiledWorkspaces();
  for (const dir of workspaces) modules += await buildWorkspace(join(ROOT, dir));
  process.stderr.write(
    `[build] ${modules} modules in ${workspaces.length} workspaces → dist/ (${Date.now() - started} ms)\n`,
  );
  if (!process.argv.includes('--no-console')) {
    const vite = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'],
      {
        cwd: join(ROOT, 'packages/console'),
        stdio: 'inherit',
      },
    );
    if (vite.status !== 0) return 1;
    process.stderr.write(`[build] console → packages/console/dist (${Date.now() - started} ms total)\n`);
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`[build] ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
