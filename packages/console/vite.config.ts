/// <reference types="vitest/config" />
import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';
import { checkBudget, FIRST_LOAD_BUDGET_BYTES, precompress } from './build/delivery.js';

/**
 * After the files are written: fail the build when the first load is over budget, then write the
 * brotli and gzip copies the API serves. `OCR_CONSOLE_BUDGET_BYTES` lowers the budget (the test proves
 * that the check can fail).
 */
function delivery(): Plugin {
  let outDir = 'dist';
  return {
    name: 'ocr-delivery',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle: {
      sequential: true,
      handler() {
        const budget = Number(process.env.OCR_CONSOLE_BUDGET_BYTES) || FIRST_LOAD_BUDGET_BYTES;
        const load = checkBudget(outDir, budget);
        precompress(outDir);
        this.info?.(
          `first load ${(load.total / 1024).toFixed(1)} kB gzipped (budget ${(budget / 1024).toFixed(0)} kB)`,
        );
      },
    },
  };
}

/**
 * The console is served by the API at `/`, so assets are absolute from the root; routing is hash-based
 * (`#/runs/ID`) so the API needs no SPA fallback. `OCR_API_URL` points the dev server's proxy at an API.
 */
export default defineConfig({
  base: '/',
  plugins: [react(), delivery()],
  // react is installed both here and at the root (peer deps of hoisted libraries): one copy, or hooks break.
  resolve: { dedupe: ['react', 'react-dom'] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // The first-load budget above is the real check; this warns about any single chunk over 500 kB.
    chunkSizeWarningLimit: 500,
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      '/v1': { target: process.env.OCR_API_URL ?? 'http://127.0.0.1:8080', ws: true, changeOrigin: true },
    },
  },
  test: {
    include: ['src/**/*.spec.{ts,tsx}'],
    environment: 'node',
  },
});
