// Docker steps only where the worker declares them (OCR_DOCKER_STEPS): a general worker fails the step
// with `docker_not_enabled` and starts no container, although an engine answers on this machine; the
// docker group's worker runs the same template in a container.
import t from 'tap';
import { startStack, startTestWorker, finished } from '@ocr/testkit';
import { ensureTestImage, TEST_IMAGE } from '@ocr/testkit/docker-image';

const TEMPLATE = {
  name: 'in-box',
  retry: { max_attempts: 1 },
  steps: [
    {
      name: 'box',
      kind: 'docker' as const,
      image: TEST_IMAGE,
      command: ['sh', '-c', 'echo inside-$HOSTNAME'],
    },
  ],
};

t.test('a general worker refuses docker steps without touching the engine', async (t) => {
  const docker = await ensureTestImage();
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create(TEMPLATE);
  const before = new Set((await docker.listContainers({ all: true })).map((c) => c.Id));
  const worker = await startTestWorker(t, stack);
  const { run } = await stack.client.runs.create({ template: 'in-box' });
  t.equal(await finished(worker, run.id), 'error');
  const detail = await stack.client.runs.get(run.id);
  t.match(detail.run.error, { code: 'docker_not_enabled', message: /OCR_DOCKER_STEPS=true.*lanes A/ });
  const after = (await docker.listContainers({ all: true })).filter((c) => !before.has(c.Id));
  t.same(
    after.filter((c) => c.Labels?.['ocr.run_id'] === run.id),
    [],
    'no container was created for the run',
  );
});

t.test('the docker group (OCR_DOCKER_STEPS=true) runs the step in a container', async (t) => {
  await ensureTestImage();
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create(TEMPLATE);
  const worker = await startTestWorker(t, stack, { OCR_DOCKER_STEPS: 'true' });
  const { run } = await stack.client.runs.create({ template: 'in-box' });
  t.equal(await finished(worker, run.id), 'success');
  const { events } = await stack.client.runs.events(run.id, { limit: 1000 });
  t.ok(
    events.some((e) => e.type === 'log' && e.message.startsWith('inside-')),
    'the container printed its line',
  );
});
