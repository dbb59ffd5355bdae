/**
 * The architecture's boundaries, checked by tooling (`npm run lint`, and `npm test` through
 * tests/boundaries.test.ts). Workspaces talk through each other's public `@ocr/*` entry points only.
 * SQL stays in packages/db: that rule is ESLint's (eslint.config.js), which can tell `import { sql }`
 * and value imports of `pg` from type-only ones.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'service-imports-another-service',
      comment: 'Services share code through packages/, never by importing each other.',
      severity: 'error',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/', pathNot: '^services/$1/' },
    },
    {
      name: 'package-imports-a-service',
      comment:
        'Packages sit below services. The two composition roots are the exception: the ocr binary (packages/cli) ' +
        'starts the services, and packages/testkit starts them for tests.',
      severity: 'error',
      from: { path: '^packages/', pathNot: '^packages/(cli|testkit)/' },
      to: { path: '^services/' },
    },
    {
      name: 'test-reaches-into-another-workspace-tests',
      comment:
        'Shared test helpers live in @ocr/testkit; a workspace test directory belongs to that workspace.',
      severity: 'error',
      from: { path: '^(packages|services)/([^/]+)/' },
      to: { path: '^(packages|services)/[^/]+/test/', pathNot: '^$1/$2/test/' },
    },
    {
      name: 'cross-service-tests-reach-into-workspace-tests',
      comment: 'tests/, bench/ and scripts/ use @ocr/testkit, not a workspace test directory.',
      severity: 'error',
      from: { path: '^(tests|bench|scripts)/' },
      to: { path: '^(packages|services)/[^/]+/test/' },
    },
    {
      name: 'source-imports-tests',
      severity: 'error',
      from: { path: '^(packages|services)/[^/]+/src/' },
      to: { path: '/test/' },
    },
    {
      name: 'internals-of-another-workspace',
      comment:
        'Another workspace is imported by its name (@ocr/...), which resolves to its exports, never by a relative path.',
      severity: 'error',
      from: { path: '^(packages|services)/([^/]+)/' },
      to: {
        path: '^(packages|services)/',
        pathNot: [
          '^$1/$2/',
          '^(packages|services)/[^/]+/src/index\\.ts$',
          '^packages/testkit/src/(docker-image|postgres|random)\\.ts$',
          '^packages/runtime/src/s3\\.ts$',
          '^packages/console/location\\.(js|d\\.ts)$',
        ],
      },
    },
    {
      name: 'import-cycle',
      comment: 'Type-only imports count: a cycle of types is still a knot in the design.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'unresolvable',
      comment:
        'The peer benchmarks load pg-boss and graphile-worker from bench/.scratch, installed by the bench runner.',
      severity: 'error',
      from: { pathNot: '^bench/peers/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['node_modules', '(^|/)dist/', '^bench/\\.scratch/', '^\\.ocr/'] },
    tsPreCompilationDeps: true,
    combinedDependencies: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.d.ts'],
    },
  },
};
