import t from 'tap';
import { cancelRun, claimRuns, completeRuns, heartbeatRuns, type Lease } from '@ocr/db';
import { createTestDatabase, makeRuns } from '@ocr/testkit';
import { installStatusAudit, reportWhere, testSweeper } from './helpers.js';

const TERMINAL = ['success', 'error', 'cancelled'];
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;

/**
 * Fast sweeps against simulated workers that use the real queue functions and behave at random around the
 * heartbeat timeout: finish at once, heartbeat then finish, nap past the timeout then try to finish (a
 * zombie), or die. Whatever the interleaving, the database must never show an illegal transition.
 */
t.test('race: workers completing at random while fast sweeps run: no illegal transition', async (t) => {
  const TIMEOUT_MS = 300;
  const { db, pool } = await createTestDatabase(t, { poolSize: 30 });
  await installStatusAudit(pool);
  const runs = await makeRuns(db, 240, {
    max_attempts: 2,
    max_infra_losses: 3,
    retry_policy: { initial_s: 0, factor: 1, max_s: 0 },
  });
  const { sweeper, registry } = testSweeper(t, db, {
    id: 'racer',
    env: {
      OCR_HEARTBEAT_TIMEOUT_S: String(TIMEOUT_MS / 1000),
      OCR_HEARTBEAT_INTERVAL_S: '0.1',
      OCR_SWEEP_INTERVAL_S: '0.02',
      OCR_LEADER_TTL_S: '1',
      OCR_CANCEL_GRACE_S: '0.1',
    },
  });
  sweeper.start();
  await reportWhere(sweeper, (r) => r.leader && !r.warmingUp);

  /** What each worker was told by completeRuns: ok (and the status it set), or lease_lost. */
  const accepted = new Map<string, string[]>();
  let leaseLost = 0;
  const otherRejections: string[] = [];
  const behave = async (lease: Lease) => {
    const style = pick(['prompt', 'beating', 'zombie', 'dead']);
    if (style === 'dead') return; // never heard from again: only the sweeper can end this attempt
    if (style === 'beating') {
      for (let i = 0, n = 1 + Math.floor(Math.random() * 4); i < n; i++) {
        await pause(50 + Math.random() * 100);
        await heartbeatRuns(db, [lease], 1);
      }
    }
    // A zombie naps around the timeout, so its completion races the sweeper's compare-and-set.
    if (style === 'zombie') await pause(TIMEOUT_MS * (0.7 + Math.random() * 0.8));
    const [result] = await completeRuns(db, [
      { ...lease, status: Math.random() < 0.75 ? 'success' : 'error', error: null },
    ]);
    if (result?.ok) {
      if (TERMINAL.includes(result.value.status))
        accepted.set(lease.runId, [...(accepted.get(lease.runId) ?? []), result.value.status]);
    } else {
      if (result?.reason === 'lease_lost') leaseLost++;
      else otherRejections.push(String(result?.reason));
    }
  };
  const unfinished = async () =>
    (
      await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM runs WHERE status IN ('queued', 'running')`,
      )
    ).rows[0]!.n;
  const deadline = Date.now() + 60_000;
  const worker = async (w: number) => {
    const inFlight = new Set<Promise<void>>();
    while (Date.now() < deadline) {
      const claimed = await claimRuns(db, { workerId: `w${w}`, lanes: ['A'], limit: 4, leaseSeconds: 1 });
      for (const run of claimed) {
        const job = behave({ runId: run.id, leaseToken: run.lease_token! }).finally(() =>
          inFlight.delete(job),
        );
        inFlight.add(job);
      }
      if (claimed.length === 0) {
        if ((await unfinished()) === 0) break;
        await pause(20);
      }
    }
    await Promise.all(inFlight);
  };
  // An operator cancels runs at random meanwhile: queued ones end at once, running ones race the worker and
  // the sweeper's cancel grace.
  const operator = async () => {
    while ((await unfinished()) > 0 && Date.now() < deadline) {
      await cancelRun(db, pick(runs).id, 'operator');
      await pause(15);
    }
  };
  await Promise.all([operator(), ...[0, 1, 2, 3, 4, 5].map(worker)]);
  t.equal(await unfinished(), 0, 'every run ended');
  t.same(otherRejections, [], 'a rejected completion is always a lost lease');

  const { rows: touched } = await pool.query(`SELECT * FROM status_audit WHERE old_status = ANY($1)`, [
    TERMINAL,
  ]);
  t.same(touched, [], 'no terminal run was ever updated again');
  const { rows: twice } = await pool.query(
    `SELECT run_id, array_agg(new_status ORDER BY id) AS outcomes FROM status_audit WHERE new_status = ANY($1) GROUP BY run_id HAVING count(*) > 1`,
    [TERMINAL],
  );
  t.same(twice, [], 'no run reached a terminal state twice');
  const { rows: events } = await pool.query(`
    SELECT run_id, count(*)::int AS n FROM run_timeline
    WHERE type = 'failed' OR type = 'cancel.confirmed' OR (type = 'status' AND data->>'status' IN ('success', 'error', 'cancelled'))
    GROUP BY run_id`);
  t.equal(events.length, runs.length, 'every run has a terminal event');
  t.same(
    events.filter((row) => row.n !== 1),
    [],
    'and exactly one',
  );
  const { rows: illegal } = await pool.query(`
    SELECT * FROM status_audit WHERE (old_status, new_status) NOT IN
      (('queued', 'running'), ('queued', 'cancelled'), ('running', 'queued'), ('running', 'success'), ('running', 'error'),
       ('running', 'cancelled'))`);
  t.same(illegal, [], 'only transitions of the state machine');

  const final = new Map(
    (await pool.query<{ id: string; status: string }>(`SELECT id, status FROM runs`)).rows.map((r) => [
      r.id,
      r.status,
    ]),
  );
  const disagreements = [...accepted].filter(
    ([id, statuses]) => statuses.length !== 1 || final.get(id) !== statuses[0],
  );
  t.same(disagreements, [], 'a worker whose completion was accepted always won: the run ended as it said');

  const metric = async (name: string) =>
    (await registry.getMetricsAsJSON()).find((m) => m.name === name)?.values[0]?.value ?? 0;
  const requeued = await metric('ocr_sweeper_requeued_total');
  const failed = await metric('ocr_sweeper_failed_total');
  // The race must really have been run, or the assertions above prove nothing.
  t.ok(requeued > 0 && failed > 0, `the sweeper requeued (${requeued}) and failed (${failed}) runs`);
  t.ok(leaseLost > 0, `zombies lost their lease (${leaseLost})`);
  t.ok(accepted.size > 0, `workers finished runs (${accepted.size})`);
  const cancelled = (await pool.query(`SELECT count(*)::int AS n FROM runs WHERE status = 'cancelled'`))
    .rows[0].n;
  t.ok(
    cancelled > 0,
    `runs were cancelled (${cancelled}, ${await metric('ocr_sweeper_cancels_finished_total')} by the sweeper's grace)`,
  );
  const { rows: sweptFailed } = await pool.query(
    `SELECT count(*)::int AS n FROM runs WHERE error->>'code' = 'heartbeat_timeout'`,
  );
  t.equal(sweptFailed[0].n, failed, 'every sweeper failure is a heartbeat_timeout run');
});
