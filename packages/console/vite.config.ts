/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * The console is served by the API at `/`, so assets are absolute from the root; routing is hash-based
 * (`#/runs/ID`) so the API needs no SPA fallback. `OCR_API_URL` points the dev server's proxy at an API.
 */
export default defineConfig({
  base: '/',
  plugins: [react()],
  // react is installed both here and at the root (peer deps of hoisted libraries): one copy, or hooks break.
  resolve: { dedupe: ['react', 'react-dom'] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
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
