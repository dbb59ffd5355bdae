#!/usr/bin/env node
// The `ocr` binary. Which tree runs is decided by the resolver, not here: with the `ocr-compiled` export
// condition (`node --conditions=ocr-compiled`, set by the image in NODE_OPTIONS) every `@ocr/*` package,
// this one included, resolves to its `npm run build` output and plain node runs it. Without it they resolve
// to their TypeScript sources and tsx's loader is registered first, so a checkout runs with no build step.

// Node 20 is supported until the project moves to 22 (docs/development.md); the SDK's nag adds nothing.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const main = import.meta.resolve('@ocr/cli/main');
if (main.endsWith('.ts')) {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    // A production install (npm ci --omit=dev) has no tsx: say which switch selects the build.
    process.stderr.write(
      'ocr: this install runs the compiled build: start node with --conditions=ocr-compiled (after npm run build)\n',
    );
    process.exit(1);
  }
  tsx.register();
}
await import(main);
