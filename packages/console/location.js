import { resolve } from 'node:path';

/**
 * Where `npm run build -w @ocr/console` writes the console (index.html and hashed assets). The API
 * serves it from here; it is this package's only export, so nobody else spells the path. Plain JavaScript
 * (typed by location.d.ts) so the same file serves the TypeScript sources and the compiled build.
 */
export const CONSOLE_DIST = resolve(import.meta.dirname, 'dist');
