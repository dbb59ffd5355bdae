import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.ocr/**', '.tap/**', 'bench/.scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Plain JavaScript (the CLI shim, the image's health check, benchmark peers) runs on Node.
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'process',
          'console',
          'Buffer',
          'URL',
          'fetch',
          'AbortSignal',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          'performance',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    // SQL lives in packages/db (docs/architecture.md): elsewhere, no value import of the driver and no
    // `sql` template of Kysely; types are fine. The boundaries between workspaces are dependency-cruiser's
    // (.dependency-cruiser.cjs); both run in `npm run lint` and in `npm test`.
    files: ['**/*.{ts,tsx,js,mjs,cjs}'],
    ignores: [
      'packages/db/**',
      // Embedded Postgres is tested by connecting to it; the benchmarks measure Postgres itself (pgbench)
      // and peer queues with their own SQL.
      'packages/embedded/**',
      'bench/lib/pgbench.ts',
      'bench/peers/**',
      // The fault harness and the restore drill judge the database independently of the code under test.
      'faults/**',
      'tests/restore-drill.integration.test.ts',
    ],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'pg',
              message: 'SQL lives in packages/db: use or add a function of @ocr/db.',
              allowTypeImports: true,
            },
            {
              name: 'kysely',
              importNames: ['sql'],
              message: 'SQL lives in packages/db: use or add a function of @ocr/db.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    // Migrations are frozen and typed `Kysely<any>` on purpose: they must not depend on today's table types.
    files: ['packages/db/src/migrations/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
