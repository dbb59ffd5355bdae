#!/usr/bin/env node
// The `ocr` binary. TypeScript sources run through tsx's loader, so there is no build step between a
// checkout and a running control room (the same path runs in the container image).
import { register } from 'tsx/esm/api';

// Node 20 is supported until the project moves to 22 (docs/development.md); the SDK's nag adds nothing.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
await import('../src/main.ts');
