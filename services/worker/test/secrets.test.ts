/** The worker's secret source: env variables and a Kubernetes-style secrets directory, read per run. */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { createSecretSource, MAX_SECRET_BYTES, secretsForStep } from '../src/secrets.js';

const log = pino({ level: 'silent' });

t.test('env variables and files, by variable name; files re-read on every load', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ocr-secret-src-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'db_password'), 'first\n');
  await writeFile(join(dir, 'crlf'), 'value\r\n');
  await writeFile(join(dir, 'two_newlines'), 'kept\n\n');
  await writeFile(join(dir, 'SHARED'), 'from-file');
  await writeFile(join(dir, 'too_big'), 'x'.repeat(MAX_SECRET_BYTES + 1));
  await writeFile(join(dir, 'bad-name.txt'), 'ignored');
  await writeFile(join(dir, 'Dup'), 'one');
  await writeFile(join(dir, 'DUP'), 'two');
  // What Kubernetes puts next to the keys of a mounted Secret.
  await mkdir(join(dir, '..2026_01_01_00_00_00.1'));
  await symlink('..2026_01_01_00_00_00.1', join(dir, '..data'));
  await mkdir(join(dir, 'a_directory'));
  const source = createSecretSource({
    env: { OCR_SECRET_API_TOKEN: 'tok', OCR_SECRET_SHARED: 'from-env', OCR_SECRET_: 'x', OTHER: 'y' },
    dir,
    log,
  });
  const store = await source.load();
  t.same(Object.fromEntries([...store].sort()), {
    OCR_SECRET_API_TOKEN: 'tok',
    OCR_SECRET_CRLF: 'value',
    OCR_SECRET_DB_PASSWORD: 'first',
    OCR_SECRET_SHARED: 'from-file',
    OCR_SECRET_TWO_NEWLINES: 'kept\n',
  });
  await writeFile(join(dir, 'db_password'), 'rotated\n');
  t.equal((await source.load()).get('OCR_SECRET_DB_PASSWORD'), 'rotated', 'a rotated file is read again');
  await rm(dir, { recursive: true, force: true });
  t.same(
    [...(await source.load()).keys()],
    ['OCR_SECRET_API_TOKEN', 'OCR_SECRET_SHARED'],
    'a vanished directory leaves the env',
  );
});

t.test('a step gets only the secrets it references, under the names it uses', async (t) => {
  const store = new Map([
    ['OCR_SECRET_API_TOKEN', 'tok'],
    ['OCR_SECRET_OTHER', 'other'],
  ]);
  const step = {
    name: 's',
    kind: 'http',
    url: 'https://example.com/{{ secrets.api_token }}',
    headers: { a: '{{secrets.API_TOKEN}}', b: '{{secrets.MISSING}}' },
  };
  t.same(secretsForStep(step, store), { api_token: 'tok', API_TOKEN: 'tok' });
  t.same(secretsForStep({ name: 's', kind: 'noop' }, store), {});
});
