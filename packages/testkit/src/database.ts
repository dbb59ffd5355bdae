import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect, type Db } from '@ocr/db';

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

function urlFor(database: string): string {
  const url = new URL(serverUrl());
  url.pathname = `/${database}`;
  return url.toString();
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
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    // CREATE DATABASE ... TEMPLATE fails while another session is connected to the template; retry briefly.
    for (let i = 0; ; i++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        break;
      } catch (err) {
        if (i >= 50 || !/being accessed by other users/.test(String(err))) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
      }
    }
  } finally {
    await admin.end();
  }
  const url = urlFor(name);
  const handle = connect(url, { max: options.poolSize ?? 20, applicationName: 'ocr-test' });
  t.teardown(async () => {
    await handle.close().catch(() => undefined);
    const dropper = new pg.Client({ connectionString: serverUrl() });
    await dropper.connect();
    await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await dropper.end();
  });
  return { ...handle, url, name };
}
