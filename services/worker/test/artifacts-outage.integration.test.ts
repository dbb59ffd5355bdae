import t from 'tap';
import { createHash } from 'node:crypto';
import { eventually, startStack, type Stack } from '@ocr/testkit';
import { finished, startTestWorker } from './helpers.js';

// Object storage goes down while a worker stores a run's artifact (the real s3rver, stopped with its open
// connections cut, then started again on the same port over the same files). The worker retries through the
// outage for OCR_ARTIFACT_RETRY_S and the artifact lands; past that window the run fails, never `success`.

const SIZE = 4_000_000;

async function reportTemplate(stack: Stack): Promise<void> {
  await stack.client.templates.create({
    name: 'report',
    retry: { max_attempts: 1 },
    steps: [
      {
        name: 'build',
        kind: 'shell',
        script: `mkdir -p out && head -c ${SIZE} /dev/urandom > out/big.bin`,
        artifacts: [{ path: 'out/big.bin', kind: 'file' }],
      },
    ],
  });
}

async function retries(stack: Stack, runId: string): Promise<number> {
  const { events } = await stack.client.runs.events(runId, { limit: 1000 });
  return events.filter((e) => e.type === 'artifact.retrying').length;
}

async function s3Answers(stack: Stack): Promise<boolean> {
  return fetch(stack.s3!.endpoint).then(
    () => true,
    () => false,
  );
}

for (const when of ['while the object is being uploaded', 'after the upload, before it is verified']) {
  t.test(`an artifact survives an S3 outage ${when}`, async (t) => {
    const stack = await startStack(t);
    await reportTemplate(stack);
    let outage: Promise<void> | undefined;
    const off = stack.s3!.onRequest((request, response) => {
      if (request.method !== 'PUT' || outage) return;
      // Mid-upload: the body is still arriving when the connections are cut. After it: the object is stored
      // and acknowledged, and the API's verification (HEAD + GET) meets the outage.
      if (when.startsWith('while')) outage = stack.stopS3();
      else response.once('finish', () => (outage = stack.stopS3()));
    });
    const worker = await startTestWorker(t, stack, { OCR_ARTIFACT_RETRY_S: '60' });
    const { run } = await stack.client.runs.create({ template: 'report', params: {} });
    const end = finished(worker, run.id);
    await eventually(async () => outage !== undefined && (await outage.then(() => true)), 30_000);
    off();
    t.notOk(await s3Answers(stack), 'S3 is down');
    // More failed tries than the old budget of three (about 1.2 s) before storage comes back.
    await eventually(async () => (await retries(stack, run.id)) >= 4, 30_000);
    t.equal((await stack.client.runs.get(run.id)).run.status, 'running', 'the run waits for its artifact');
    await stack.startS3();
    t.equal(await end, 'success');
    const { artifacts } = await stack.client.runs.artifacts(run.id);
    t.equal(artifacts.length, 1, 'declared once, however many tries');
    const [artifact] = artifacts;
    t.equal(artifact!.status, 'ready');
    t.equal(artifact!.size, SIZE);
    const { download_url } = await stack.client.artifacts.get(artifact!.id);
    const body = Buffer.from(await (await fetch(download_url!)).arrayBuffer());
    t.equal(body.length, SIZE);
    t.equal(createHash('sha256').update(body).digest('hex'), artifact!.sha256, 'byte for byte');
    const { events } = await stack.client.runs.events(run.id, { limit: 1000 });
    t.notOk(
      events.some((e) => e.type === 'artifact.failed'),
      'no artifact.failed',
    );
    t.ok(
      events.some((e) => e.type === 'artifact'),
      'artifact uploaded event',
    );
  });
}

t.test('S3 down for longer than the retry window: the run fails with artifact_upload_failed', async (t) => {
  const stack = await startStack(t);
  await reportTemplate(stack);
  await stack.stopS3();
  const worker = await startTestWorker(t, stack, { OCR_ARTIFACT_RETRY_S: '2' });
  const { run } = await stack.client.runs.create({ template: 'report', params: {} });
  t.equal(await finished(worker, run.id), 'error');
  const { run: done } = await stack.client.runs.get(run.id);
  t.equal(done.status, 'error', 'never success without its artifact');
  t.equal(done.error?.code, 'artifact_upload_failed');
  t.match(done.error?.message, /out\/big\.bin/);
  const { events } = await stack.client.runs.events(run.id, { limit: 1000 });
  t.ok(
    events.some((e) => e.type === 'artifact.failed'),
    'artifact.failed event',
  );
  t.ok(await retries(stack, run.id), 'retried before giving up');
  // Storage back: a later run stores its artifact (the stack's restart works after a stop).
  await stack.startS3();
  const { run: again } = await stack.client.runs.create({ template: 'report', params: {} });
  t.equal(await finished(worker, again.id), 'success');
});
