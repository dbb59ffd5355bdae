import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startStack, startTestWorker } from '@ocr/testkit';
import { buildSdk } from '../../scripts/build-sdk.js';

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

t.test('the packed SDK installs outside the repo, type-checks and works against a live API', async (t) => {
  t.setTimeout(600_000);
  const sdk = buildSdk();
  const project = await mkdtemp(join(tmpdir(), 'ocr-sdk-consumer-'));
  t.teardown(() => rm(project, { recursive: true, force: true }));

  const { stdout: packed } = await run(NPM, ['pack', '--json', '--pack-destination', project], { cwd: sdk });
  const [{ filename, files }] = JSON.parse(packed) as [{ filename: string; files: { path: string }[] }];
  const paths = files.map((f) => f.path);
  t.ok(paths.includes('dist/index.js') && paths.includes('dist/index.d.ts'), 'ESM and .d.ts are packed');
  t.ok(paths.includes('README.md'), 'the README is packed');
  t.notOk(
    paths.some((p) => p.endsWith('.ts') && !p.endsWith('.d.ts')),
    'no TypeScript sources are packed',
  );
  const manifest = JSON.parse(await readFile(join(sdk, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
  };
  t.match(manifest.version, /^\d+\.\d+\.\d+$/, 'a semver version');
  t.same(
    Object.keys(manifest.dependencies).filter((d) => d.startsWith('@ocr/')),
    [],
    'no workspace dependency',
  );

  // A fresh project outside the repository: the tarball, TypeScript and Node's types, nothing else.
  const versions = async (name: string) =>
    (JSON.parse(await readFile(join('node_modules', name, 'package.json'), 'utf8')) as { version: string })
      .version;
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        outDir: 'out',
        types: ['node'],
        skipLibCheck: false,
      },
      include: ['consumer.ts'],
    }),
  );
  await cp(join(import.meta.dirname, 'fixtures/consumer.ts'), join(project, 'consumer.ts'));
  await run(
    NPM,
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      join(project, filename),
      `typescript@${await versions('typescript')}`,
      `@types/node@${await versions('@types/node')}`,
    ],
    { cwd: project },
  );
  const installed = JSON.parse(
    await readFile(join(project, 'node_modules/@ocr/client/package.json'), 'utf8'),
  ) as { version: string };
  t.equal(installed.version, manifest.version, 'the tarball is what got installed');

  // Type-check (strict, skipLibCheck off: the SDK's own .d.ts are checked too) and compile the consumer.
  const tsc = await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], {
    cwd: project,
  }).then(
    () => '',
    (err: { stdout?: string }) => err.stdout ?? String(err),
  );
  t.equal(tsc, '', 'the consumer type-checks against the installed SDK');

  const stack = await startStack(t, { s3: false });
  await startTestWorker(t, stack);
  const { token } = await stack.tokenFor('operator');
  const { stdout } = await run(process.execPath, ['out/consumer.js'], {
    cwd: project,
    env: { ...process.env, OCR_API_URL: stack.apiUrl, OCR_TOKEN: token },
    timeout: 120_000,
  });
  const result = JSON.parse(stdout) as {
    status: string;
    lines: string[];
    seqs: number[];
    middle: number;
    resumed: number[];
    conflict: string;
    missing: string;
    aborted: string;
  };
  t.equal(result.status, 'success');
  t.same(result.lines, ['line 1', 'line 2', 'line 3', 'line 4', 'line 5'], 'every line, in order');
  t.same(
    result.seqs,
    result.seqs.map((_, i) => result.seqs[0]! + i),
    'seqs without gap or duplicate',
  );
  t.same(
    result.resumed,
    result.seqs.filter((s) => s > result.middle),
    'a resumed follow yields exactly the events after its seq',
  );
  t.equal(result.conflict, 'idempotency_conflict');
  t.equal(result.missing, '404 not_found');
  t.equal(result.aborted, 'stop following', 'an aborted follow throws the signal reason');
});
