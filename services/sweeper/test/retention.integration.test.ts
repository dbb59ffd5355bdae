// Retention on real PostgreSQL and a real S3 server (s3rver): the leader deletes finished runs past their
// lane's retention with their events, steps, artifact rows and objects, in small batches, while workers keep
// claiming; a claim that had to wait on a lock held by retention would fail (lock_timeout).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import { claimRuns, connect } from '@ocr/db';
import { startEmbeddedS3 } from '@ocr/embedded';
import { createTestDatabase } from '@ocr/testkit';
import { createSweeper, loadSweeperConfig, s3ObjectRemover } from '../src/index.js';
import { FAST_ENV } from './helpers.js';

const BIG_RUN_EVENTS = 100_000;
const EVENT_BATCH = 2_000;

t.test(
  'a 100,000-event run and its S3 artifacts are pruned in small batches without blocking claims',
  async (t) => {
    const { pool, db, url } = await createTestDatabase(t, { poolSize: 4 });
    const dir = await mkdtemp(join(tmpdir(), 'ocr-retention-s3-'));
    const s3 = await startEmbeddedS3({ dir });
    t.teardown(async () => {
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    });
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    t.teardown(() => client.destroy());
    const exists = (key: string) =>
      client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key })).then(
        () => true,
        () => false,
      );

    await pool.query(`INSERT INTO lanes (name) VALUES ('A'), ('B')`);
    const finished = async (
      lane: string,
      daysAgo: number,
      retryOf: string | null = null,
    ): Promise<string> => {
      const { rows } = await pool.query(
        `INSERT INTO runs (template, template_version, lane, status, attempt, started_at, finished_at, retry_of)
       VALUES ('hello', 1, $1, 'success', 1, now() - make_interval(days => $2), now() - make_interval(days => $2), $3) RETURNING id`,
        [lane, daysAgo, retryOf],
      );
      return rows[0].id as string;
    };
    const big = await finished('A', 40);
    const small = await finished('A', 35);
    const retried = await finished('A', 1, small); // a recent retry of an expired run
    const recent = await finished('A', 5);
    const keptLane = await finished('B', 400); // lane B keeps forever (override 0)
    await pool.query(
      `INSERT INTO run_events (run_id, seq, attempt, level, type, message)
     SELECT $1, g, 1, 'info', 'log', 'line ' || g FROM generate_series(1, ${BIG_RUN_EVENTS}) g`,
      [big],
    );
    for (const run of [small, retried, recent, keptLane]) {
      await pool.query(
        `INSERT INTO run_events (run_id, seq, attempt, level, type) SELECT $1, g, 1, 'info', 'log' FROM generate_series(1, 10) g`,
        [run],
      );
    }
    await pool.query(
      `INSERT INTO run_steps (run_id, attempt, idx, name, kind, status, finished_at) VALUES ($1, 1, 0, 'greet', 'shell', 'success', now())`,
      [big],
    );
    const objects: Record<string, string> = {};
    for (const run of [big, small, recent]) {
      const key = `artifacts/${run}/report.txt`;
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: `report of ${run}` }));
      await pool.query(
        `INSERT INTO artifacts (run_id, attempt, name, kind, content_type, size, sha256, status, storage, object_key, completed_at)
       VALUES ($1, 1, 'report.txt', 'file', 'text/plain', 10, repeat('a', 64), 'ready', 's3', $2, now())`,
        [run, key],
      );
      objects[run] = key;
    }
    await pool.query(
      `INSERT INTO runs (template, template_version, lane) SELECT 'hello', 1, 'A' FROM generate_series(1, 400)`,
    );

    const lines: Record<string, unknown>[] = [];
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    const config = loadSweeperConfig({
      DATABASE_URL: url,
      OCR_SWEEPER_ID: 'retention-test',
      ...FAST_ENV,
      OCR_RETENTION_DAYS: '30',
      OCR_RETENTION_LANE_DAYS: 'B=0',
      OCR_RETENTION_INTERVAL_S: '0',
      OCR_RETENTION_BATCH_RUNS: '10',
      OCR_RETENTION_BATCH_EVENTS: String(EVENT_BATCH),
      OCR_S3_ENDPOINT: s3.endpoint,
      OCR_S3_BUCKET: s3.bucket,
      OCR_S3_ACCESS_KEY_ID: s3.accessKeyId,
      OCR_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      OCR_S3_FORCE_PATH_STYLE: 'true',
    });
    const registry = new Registry();
    // 50 ms a tick: far less than deleting 100,000 events takes on any machine, so the pass must resume.
    const sweeper = createSweeper({
      db,
      log,
      config,
      registry,
      removeObjects: s3ObjectRemover(config),
      retentionBudgetMs: 50,
    });
    t.teardown(() => sweeper.stop());

    // Workers claim throughout, on connections that give up after 200 ms of waiting for any lock.
    const claimUrl = new URL(url);
    claimUrl.searchParams.set('options', '-c lock_timeout=200');
    const claimer = connect(claimUrl.toString(), { max: 2 });
    t.teardown(() => claimer.close());
    let pruning = true;
    let claims = 0;
    let claimed = 0;
    let slowestMs = 0;
    const claimLoop = (async () => {
      while (pruning) {
        const started = performance.now();
        const runs = await claimRuns(claimer.db, { workerId: 'w', lanes: ['A'], limit: 1, leaseSeconds: 30 });
        slowestMs = Math.max(slowestMs, performance.now() - started);
        claims++;
        claimed += runs.length;
      }
    })();

    sweeper.start();
    const gone = async () =>
      (await pool.query(`SELECT count(*)::int AS n FROM runs WHERE id = ANY($1::uuid[])`, [[big, small]]))
        .rows[0].n === 0;
    let ticksWithPruning = 0;
    for (let i = 0; i < 500 && !(await gone()); i++) {
      const report = await sweeper.nextTick();
      if (report.pruned && report.pruned.batches > 0) ticksWithPruning++;
    }
    pruning = false;
    await claimLoop;

    t.ok(await gone(), 'the expired runs are gone');
    const count = async (q: string, params: unknown[]) => (await pool.query(q, params)).rows[0].n as number;
    t.equal(
      await count(`SELECT count(*)::int AS n FROM run_events WHERE run_id = ANY($1::uuid[])`, [[big, small]]),
      0,
      'with their events',
    );
    t.equal(
      await count(`SELECT count(*)::int AS n FROM run_steps WHERE run_id = $1`, [big]),
      0,
      'their steps',
    );
    t.equal(
      await count(`SELECT count(*)::int AS n FROM artifacts WHERE run_id = ANY($1::uuid[])`, [[big, small]]),
      0,
      'their artifact rows',
    );
    t.notOk(await exists(objects[big]!), 'and their S3 objects');
    t.ok(await exists(objects[recent]!), 'a recent run keeps its object');
    t.equal(
      await count(`SELECT count(*)::int AS n FROM runs WHERE id = ANY($1::uuid[])`, [
        [recent, keptLane, retried],
      ]),
      3,
      'recent runs, the kept lane and the retry stay',
    );
    t.equal(
      await count(`SELECT count(*)::int AS n FROM run_events WHERE run_id = ANY($1::uuid[])`, [
        [recent, keptLane, retried],
      ]),
      30,
    );
    t.equal(
      (await pool.query(`SELECT retry_of FROM runs WHERE id = $1`, [retried])).rows[0].retry_of,
      null,
      'the retry only loses its link',
    );

    const batches = lines.filter((l) => l.msg === 'retention batch deleted');
    const eventBatches = batches.filter((l) => (l.events as number) > 0);
    t.ok(eventBatches.length >= BIG_RUN_EVENTS / EVENT_BATCH, `${eventBatches.length} event batches logged`);
    t.ok(
      eventBatches.every((l) => (l.events as number) <= EVENT_BATCH),
      `each batch at most ${EVENT_BATCH} events`,
    );
    t.ok(ticksWithPruning > 1, `spread over ${ticksWithPruning} ticks (a time budget per tick)`);
    const metric = await registry.getSingleMetricAsString('ocr_retention_deleted_total');
    t.match(metric, new RegExp(`ocr_retention_deleted_total\\{kind="events"\\} ${BIG_RUN_EVENTS + 10}\\b`));
    t.match(metric, /ocr_retention_deleted_total\{kind="runs"\} 2\b/);
    t.match(metric, /ocr_retention_deleted_total\{kind="objects"\} 2\b/, metric);
    t.ok(
      claims > 10 && claimed > 0,
      `${claims} claims (${claimed} runs) ran during pruning, none waited 200 ms on a lock`,
    );
    t.comment(`slowest claim during pruning: ${slowestMs.toFixed(1)} ms; ${batches.length} batches`);
  },
);

t.test(
  'without a bucket, runs with S3 artifacts are kept (never an orphaned object); bad settings fail at start',
  async (t) => {
    const { pool, db, url } = await createTestDatabase(t);
    await pool.query(`INSERT INTO lanes (name) VALUES ('A')`);
    const { rows } = await pool.query(
      `INSERT INTO runs (template, template_version, lane, status, attempt, started_at, finished_at)
     VALUES ('hello', 1, 'A', 'error', 1, now() - interval '90 days', now() - interval '90 days'),
            ('hello', 1, 'A', 'error', 1, now() - interval '90 days', now() - interval '90 days') RETURNING id`,
    );
    await pool.query(
      `INSERT INTO artifacts (run_id, attempt, name, kind, content_type, size, sha256, status, storage, object_key, completed_at)
     VALUES ($1, 1, 'x', 'file', 'text/plain', 1, repeat('b', 64), 'ready', 's3', 'artifacts/x', now())`,
      [rows[0].id],
    );
    const config = loadSweeperConfig({
      DATABASE_URL: url,
      OCR_SWEEPER_ID: 's',
      ...FAST_ENV,
      OCR_RETENTION_DAYS: '30',
      OCR_RETENTION_INTERVAL_S: '0',
    });
    const sweeper = createSweeper({ db, log: pino({ level: 'silent' }), config, registry: new Registry() });
    t.teardown(() => sweeper.stop());
    sweeper.start();
    let report;
    do report = await sweeper.nextTick();
    while (!report.pruned || report.pruned.runs + report.pruned.skipped === 0);
    t.same({ runs: report.pruned.runs, skipped: report.pruned.skipped }, { runs: 1, skipped: 1 });
    const left = await pool.query(`SELECT id FROM runs`);
    t.same(
      left.rows.map((r) => r.id),
      [rows[0].id],
      'the run with an object stays',
    );

    t.throws(
      () => loadSweeperConfig({ DATABASE_URL: url, OCR_RETENTION_LANE_DAYS: 'A=seven' }),
      /OCR_RETENTION_LANE_DAYS/,
    );
    t.throws(() => loadSweeperConfig({ DATABASE_URL: url, OCR_RETENTION_DAYS: '-1' }), /OCR_RETENTION_DAYS/);
    t.throws(() => loadSweeperConfig({ DATABASE_URL: url, OCR_S3_BUCKET: 'only-one' }), /OCR_S3_\*/);
  },
);
