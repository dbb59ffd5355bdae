// Deployment mode's drain, with a real worker process and a real SIGTERM: stop claiming at once, let what
// can finish inside OCR_SHUTDOWN_GRACE_S finish, hand back only what cannot, exit 0 before the grace ends.
import t from 'tap';
import { startStack } from '@ocr/testkit';
import { eventually, spawnOcr } from '@ocr/testkit';

const FAST = {
  OCR_HEARTBEAT_INTERVAL_S: '0.5',
  OCR_HEARTBEAT_TIMEOUT_S: '5',
  OCR_KILL_GRACE_S: '0.5',
  OCR_EVENT_FLUSH_MS: '50',
};
const GRACE_S = 4;

t.test(
  'SIGTERM: a run that fits the grace finishes, one that does not is handed back, nothing new is claimed',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await stack.client.templates.create({
      name: 'fits',
      steps: [{ name: 'work', kind: 'shell', script: 'echo start; sleep 1.5; echo end' }],
    });
    await stack.client.templates.create({
      name: 'outlasts',
      steps: [{ name: 'work', kind: 'shell', script: 'echo start; sleep 120; echo end' }],
    });
    const { token } = await stack.tokenFor('worker');
    const worker = spawnOcr(t, 'worker', {
      ...stack.env,
      ...FAST,
      OCR_TOKEN: token,
      OCR_LANES: 'A',
      PORT: '0',
      OCR_CONCURRENCY: '3',
      OCR_SHUTDOWN_GRACE_S: String(GRACE_S),
      OCR_WORKER_ID: 'draining',
    });
    const { run: fits } = await stack.client.runs.create({ template: 'fits' });
    const { run: outlasts } = await stack.client.runs.create({ template: 'outlasts' });
    const started = (id: string) => async () =>
      (await stack.client.runs.events(id)).events.some((e) => e.message === 'start');
    await eventually(started(fits.id));
    await eventually(started(outlasts.id));

    const signalled = Date.now();
    worker.child.kill('SIGTERM');
    await worker.waitForLog((l) => l.msg === 'shutting down');
    // The worker has a free slot, but it stopped claiming: a run queued now must stay queued.
    const { run: late } = await stack.client.runs.create({ template: 'fits' });

    t.equal(await worker.exited, 0, 'exit 0');
    const tookS = (Date.now() - signalled) / 1000;
    // Exiting takes the grace plus the hand-back calls and the process's own teardown, which a loaded
    // machine stretches by seconds; waiting out the 120 s run instead would take far longer than this bound.
    t.ok(tookS < GRACE_S + 8, `exited ${tookS.toFixed(1)} s after SIGTERM (grace ${GRACE_S} s)`);

    const get = async (id: string) => (await stack.client.runs.get(id)).run;
    const fitsAfter = await get(fits.id);
    t.equal(fitsAfter.status, 'success', 'the run that fits the grace finished');
    t.equal(fitsAfter.attempt, 1, 'in its first attempt');
    const outlastsAfter = await get(outlasts.id);
    t.equal(outlastsAfter.status, 'queued', 'the run that cannot finish was handed back');
    t.equal(outlastsAfter.wait_reason?.startsWith('backoff'), false, 'due at once, no backoff');
    const { events } = await stack.client.runs.events(outlasts.id);
    const released = events.find((e) => e.type === 'released');
    t.match(released?.message, /worker_shutdown/);
    const releasedAfterS = (Date.parse(released!.ts) - signalled) / 1000;
    t.ok(
      releasedAfterS >= GRACE_S - 1.5,
      `handed back ${releasedAfterS.toFixed(1)} s after SIGTERM: it had the grace to finish`,
    );
    const lateAfter = await get(late.id);
    t.equal(lateAfter.status, 'queued', 'nothing claimed after SIGTERM');
    // The worker aborted its parked claim on SIGTERM. If the API's claim took the new run before it noticed
    // the claimer was gone, it hands it straight back (claim_abandoned); either way no step of it ran.
    const lateEvents = (await stack.client.runs.events(late.id)).events;
    t.notOk(
      lateEvents.some((e) => e.type === 'step.started'),
      'no step of it ran',
    );
    if (lateAfter.attempt > 0)
      t.ok(
        lateEvents.some((e) => e.type === 'released' && /claim_abandoned/.test(e.message)),
        'an abandoned claim was handed back',
      );
  },
);
