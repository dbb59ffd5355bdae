import { randomBytes } from 'node:crypto';
import { connect, createDatabase, databaseUrl, dropDatabase, type Db } from '@ocr/db';

/** The slice of a tap test that the kit needs: teardown registration. */
export interface TestLike {
  teardown(fn: () => unknown): void;
}

/** A migrated database of the test file's own. */
export interface TestDatabase extends Db {
  url: string;
  name: string;
}

function serverUrl(): string {
  const url = process.env.OCR_TEST_SERVER_URL;
  if (!url) throw new Error('OCR_TEST_SERVER_URL is not set: run tests through `npm test` (scripts/test.ts)');
  return url;
}

/**
 * Clone the migrated template database into a fresh one for this test, dropped at teardown.
 * Cloning takes a few milliseconds, so every test can have its own and run in parallel.
 */
export async function createTestDatabase(
  t: TestLike,
  options: { poolSize?: number } = {},
): Promise<TestDatabase> {
  const name = `ocr_t_${randomBytes(6).toString('hex')}`;
  const template = process.env.OCR_TEST_TEMPLATE_DB ?? 'ocr_test_template';
  await createDatabase(serverUrl(), name, { template });
  const url = databaseUrl(serverUrl(), name);
  // Prepared hot statements, as the API runs them.
  const handle = connect(url, { max: options.poolSize ?? 20, applicationName: 'ocr-test', prepare: true });
  t.teardown(async () => {
    await handle.close().catch(() => undefined);
    await dropDatabase(serverUrl(), name).catch(() => undefined);
  });
  return { ...handle, url, name };
}
