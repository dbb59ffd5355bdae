#!/usr/bin/env node
// The `ocr` binary. TypeScript sources run through tsx's loader, so there is no build step between a
// checkout and a running control room (the same path runs in the container image).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
