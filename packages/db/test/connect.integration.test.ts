import t from 'tap';
import { sql } from 'kysely';
import { connect } from '@ocr/db';
import { createTestDatabase } from '@ocr/testkit';

t.test(
  'a connection killed in the middle of a transaction fails that transaction, not the process',
  async (t) => {
    const direct = await createTestDatabase(t);
    const errors: Error[] = [];
    const { db, close } = connect(direct.url, {
      max: 2,
      applicationName: 'doomed',
      onError: (err) => errors.push(err),
    });
    t.teardown(close);

    const outcome = await db
      .transaction()
      .execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
        // The backend dies while the client is checked out and idle between two statements.
        await direct.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await sql`SELECT 1`.execute(trx);
        return 'committed';
      })
      .catch((err: Error) => `failed: ${err.message}`);

    t.match(outcome, /^failed: /, 'the transaction failed');
    t.ok(errors.length >= 1, 'the lost connection was reported to onError');
    const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(db);
    t.equal(rows[0]!.one, 1, 'the pool hands out a fresh connection afterwards');
  },
);
