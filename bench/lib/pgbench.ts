import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** Transactions/s from pgbench with a custom script, or undefined when pgbench is not installed. */
async function pgbench(
  url: string,
  script: string,
  seconds: number,
  clients: number,
): Promise<number | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'ocr-pgbench-'));
  const file = join(dir, 'script.sql');
  await writeFile(file, script);
  try {
    const { stdout } = await run(
      'pgbench',
      ['-n', '-f', file, '-c', String(clients), '-j', '2', '-T', String(seconds), url],
      { env: { ...process.env, PGCONNECT_TIMEOUT: '5' } },
    );
    const tps = /tps = ([\d.]+)/.exec(stdout);
    return tps ? Number(tps[1]) : undefined;
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The physical limits of this Postgres: single-row INSERT+COMMIT, and a claim-shaped UPDATE … SKIP LOCKED. */
export async function physicalLimits(
  url: string,
  seconds: number,
  queueRows = 2_000_000,
): Promise<{ insertTps?: number; claimTps?: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS bench_insert, bench_queue;
    CREATE TABLE bench_insert (id bigserial PRIMARY KEY, v int, at timestamptz DEFAULT now());
    CREATE TABLE bench_queue (id bigserial PRIMARY KEY, status text NOT NULL DEFAULT 'q', worker text);
    CREATE INDEX ON bench_queue (id) WHERE status = 'q';
    INSERT INTO bench_queue (status) SELECT 'q' FROM generate_series(1, ${queueRows});`);
  await client.end();
  const insertTps = await pgbench(url, 'INSERT INTO bench_insert (v) VALUES (1);\n', seconds, 8);
  const claimTps = await pgbench(
    url,
    `UPDATE bench_queue SET status = 'r', worker = 'w' WHERE id = (
       SELECT id FROM bench_queue WHERE status = 'q' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id;\n`,
    seconds,
    8,
  );
  const cleanup = new pg.Client({ connectionString: url });
  await cleanup.connect();
  await cleanup.query('DROP TABLE IF EXISTS bench_insert, bench_queue');
  await cleanup.end();
  return { insertTps, claimTps };
}
