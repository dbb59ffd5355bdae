// The restore drill of docs/deployment.md ("Backups and restore"), command for command: a running system's
// database is backed up with `ocr backup create` to S3 (s3rver), a NEW PostgreSQL cluster is started,
// `ocr migrate` prepares it, `ocr backup restore --latest` loads it, and an API on the new cluster serves
// the same runs, events and artifacts, to a token created before the backup.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import pg from 'pg';
import t from 'tap';
import { loadApiConfig, startApi } from '@ocr/api';
import { appendEvents, claimRuns, completeRuns, completeRunsWithEvents, createArtifact } from '@ocr/db';
import { startEmbeddedPostgres, startEmbeddedS3 } from '@ocr/embedded';
import { makeRuns, startStack } from '@ocr/testkit';
import { BACKUP_BUCKET, DRILL } from './helpers/restore-drill.js';

const REPO_ROOT = join(import.meta.dirname, '..');

/** `node packages/cli/bin/ocr.js ARGS` as an operator (or the backup CronJob) runs it. */
async function ocr(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'packages/cli/bin/ocr.js'), ...args], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      OCR_LOG_LEVEL: 'info',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out };
}

t.test('backup → new cluster → migrate → restore → the API serves the runs', async (t) => {
  const stack = await startStack(t);
  const { db } = stack.db;
  const viewer = await stack.tokenFor('viewer');

  // A little history: finished runs with events and an inline artifact, one still queued.
  const runs = await makeRuns(db, 3, { labels: { drill: 'yes' } });
  const claimed = await claimRuns(db, { workerId: 'drill-worker', lanes: ['A'], limit: 2, leaseSeconds: 30 });
  for (const run of claimed) {
    const lease = { runId: run.id, leaseToken: run.lease_token! };
    await appendEvents(db, lease, [
      { seq: 1, level: 'info', type: 'log', message: `hello from ${run.id}`, data: { stream: 'stdout' } },
      { seq: 2, level: 'warn', type: 'log', message: 'a number JavaScript cannot hold' },
    ]);
    await stack.db.pool.query(
      `UPDATE run_events SET data = '{"n": 9007199254740993}' WHERE run_id = $1 AND seq = 2`,
      [run.id],
    );
    const artifact = await createArtifact(db, {
      run_id: run.id,
      lease_token: run.lease_token!,
      name: 'report.md',
      kind: 'markdown',
      content_type: 'text/markdown',
      size: 5,
      sha256: 'e'.repeat(64),
      content: '# ok\n',
      object_key_prefix: 'artifacts/',
    });
    t.ok(artifact, 'inline artifact stored');
    await completeRuns(db, [{ ...lease, status: 'success', output: { answer: 42 } }]);
  }
  // A fast run whose whole timeline and steps are folded into its run row (no run_events or run_steps rows):
  // restored all the same.
  const [fast] = await makeRuns(db, 1, { lane: 'B', labels: { drill: 'fast' } });
  const [fastClaim] = await claimRuns(db, {
    workerId: 'drill-worker',
    lanes: ['B'],
    limit: 1,
    leaseSeconds: 30,
  });
  await completeRunsWithEvents(db, [
    {
      runId: fast!.id,
      leaseToken: fastClaim!.lease_token!,
      status: 'success',
      events: [
        { seq: 1, level: 'info', type: 'step.started', step: 'greet', data: { index: 0, kind: 'shell' } },
        { seq: 2, level: 'info', type: 'log', message: 'fast \u00e9 "q"', data: { n: '9007199254740993' } },
        {
          seq: 3,
          level: 'info',
          type: 'step.finished',
          step: 'greet',
          data: { index: 0, kind: 'shell', status: 'success', exit_code: 0 },
        },
      ],
    },
  ]);
  const foldedRows = await stack.db.pool.query(
    `SELECT count(*)::int AS n FROM run_events WHERE run_id = $1`,
    [fast!.id],
  );
  t.equal(foldedRows.rows[0].n, 0, 'the fast run is folded into its row');
  const foldedSteps = await stack.db.pool.query(
    `SELECT (SELECT count(*)::int FROM run_steps WHERE run_id = $1) AS rows,
            (SELECT cardinality(steps) FROM runs WHERE id = $1) AS folded`,
    [fast!.id],
  );
  t.same(foldedSteps.rows[0], { rows: 0, folded: 1 }, 'its step row is folded into its row too');
  runs.push(fast!);
  const read = async (base: string, token: string, path: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const paths = runs.flatMap((r) => [
    `/v1/runs/${r.id}`,
    `/v1/runs/${r.id}/events`,
    `/v1/runs/${r.id}/artifacts`,
  ]);
  const before = await Promise.all(paths.map((p) => read(stack.apiUrl, viewer.token, p)));
  t.ok(
    before.every((r) => r.status === 200),
    'the source API serves every run',
  );

  // 1. Back up to the backups bucket (a prefix: the name gets a timestamp), as the CronJob does.
  const bucketDir = await mkdtemp(join(tmpdir(), 'ocr-backups-s3-'));
  const backups = await startEmbeddedS3({ dir: bucketDir, bucket: BACKUP_BUCKET });
  t.teardown(async () => {
    await backups.stop();
    await rm(bucketDir, { recursive: true, force: true });
  });
  const s3Env = {
    OCR_S3_ENDPOINT: backups.endpoint,
    OCR_S3_REGION: backups.region,
    OCR_S3_ACCESS_KEY_ID: backups.accessKeyId,
    OCR_S3_SECRET_ACCESS_KEY: backups.secretAccessKey,
    OCR_S3_FORCE_PATH_STYLE: 'true',
  };
  const created = await ocr([...DRILL.backup], { DATABASE_URL: stack.db.url, ...s3Env });
  t.equal(created.code, 0, created.out);
  t.match(created.out, new RegExp(`s3://${BACKUP_BUCKET}/daily/ocr-[0-9TZ-]+\\.ndjson\\.gz`));

  // 2. A new PostgreSQL cluster, an empty database.
  const dir = await mkdtemp(join(tmpdir(), 'ocr-restore-drill-'));
  const cluster = await startEmbeddedPostgres({ dir, persistent: false });
  t.teardown(async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query('CREATE DATABASE ocr');
  await admin.end();
  const target = cluster.urlFor('ocr');

  // 3. Schema first, with the build that took the backup; 4. then the data.
  const migrated = await ocr([...DRILL.migrate], { DATABASE_URL: target });
  t.equal(migrated.code, 0, migrated.out);
  const restored = await ocr([...DRILL.restore], { DATABASE_URL: target, ...s3Env });
  t.equal(restored.code, 0, restored.out);
  t.match(restored.out, /backup restored/);

  // 5. The API on the new cluster serves the same runs to the same token.
  const artifactsS3 = Object.fromEntries(Object.entries(stack.env).filter(([k]) => k.startsWith('OCR_S3_')));
  const api = await startApi(
    loadApiConfig({
      DATABASE_URL: target,
      PORT: '0',
      HOST: '127.0.0.1',
      OCR_MIGRATE: 'false',
      ...artifactsS3,
    }),
    pino({ level: 'silent' }),
  );
  t.teardown(() => api.close());
  const after = await Promise.all(paths.map((p) => read(api.url, viewer.token, p)));
  t.same(
    after,
    before,
    'runs, events and artifacts are identical, read with a token issued before the backup',
  );
  const exact = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query(
      `SELECT run_id, seq, attempt, attempt_seq, level, type, step, message, data::text AS data, ts::text AS ts
       FROM run_timeline ORDER BY run_id, seq`,
    );
    const { rows: steps } = await client.query(
      `SELECT run_id, attempt, idx, name, kind, status, started_at::text, finished_at::text, exit_code
       FROM run_steps_all ORDER BY run_id, attempt, idx`,
    );
    await client.end();
    return { rows, steps };
  };
  t.same(
    await exact(target),
    await exact(stack.db.url),
    'every event and step byte for byte (a bigint-sized JSON number, microsecond timestamps)',
  );

  // A restore never overwrites: into a non-empty database it refuses and changes nothing.
  const again = await ocr([...DRILL.restore], { DATABASE_URL: target, ...s3Env });
  t.not(again.code, 0);
  t.match(again.out, /not empty/);
  const recheck = await Promise.all(paths.map((p) => read(api.url, viewer.token, p)));
  t.same(recheck, before, 'unchanged');
});
