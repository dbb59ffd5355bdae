/**
 * A tiny test image made without any registry: a root filesystem holding the static busybox binary and a
 * symlink per applet, packed as a tar in process and given to `docker import`. Idempotent.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import Docker from 'dockerode';
import { pack } from 'tar-stream';

/** The image the docker tests run. */
export const TEST_IMAGE = 'ocr-test-busybox:latest';

/** The test image with `ENTRYPOINT ["/bin/sh", "-c"]`: its command's first element is a shell script. */
export const TEST_IMAGE_SH_ENTRYPOINT = 'ocr-test-busybox:sh-entrypoint';

/** Where the tests expect the engine (the CI script starts dockerd). */
export const DOCKER_SOCKET = '/var/run/docker.sock';

// scripts/setup-machine.ts checks (or installs) the same static binary before the run.
const BUSYBOX = process.env.OCR_BUSYBOX_PATH || '/bin/busybox';
const APPLETS = [
  'sh',
  'ash',
  'echo',
  'printf',
  'sleep',
  'cat',
  'ls',
  'mkdir',
  'rm',
  'touch',
  'test',
  '[',
  'true',
  'false',
  'env',
  'id',
  'yes',
  'head',
  'tail',
  'tr',
  'wc',
  'seq',
  'kill',
  'dd',
  'sed',
  'grep',
  'tee',
  'sha256sum',
  'mktemp',
];

/**
 * The engine must be there: the docker tests fail (never skip) with a message saying how to start it.
 * Returns a client for it.
 */
export async function requireDocker(): Promise<Docker> {
  if (!existsSync(DOCKER_SOCKET)) {
    throw new Error(
      `docker engine not running: ${DOCKER_SOCKET} is missing. Start it before the tests: ` +
        '`apt-get install -y docker.io busybox-static && (dockerd >/tmp/dockerd.log 2>&1 &)`',
    );
  }
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(
      `docker engine at ${DOCKER_SOCKET} does not answer (${(err as Error).message}); is dockerd running?`,
      { cause: err },
    );
  }
  return docker;
}

/** Build and import the test image unless it is already there. */
export async function ensureTestImage(): Promise<Docker> {
  const docker = await requireDocker();
  try {
    await docker.getImage(TEST_IMAGE).inspect();
    return docker;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: apt-get install -y busybox-static`);
  const tar = pack();
  const dir = (name: string) => tar.entry({ name, type: 'directory', mode: 0o755 });
  dir('bin');
  dir('tmp');
  dir('etc');
  dir('work');
  tar.entry({ name: 'bin/busybox', mode: 0o755, size: statSync(BUSYBOX).size }, readFileSync(BUSYBOX));
  for (const applet of APPLETS) tar.entry({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox' });
  tar.entry(
    { name: 'etc/passwd' },
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  );
  tar.finalize();
  const progress = await docker.importImage(tar as unknown as NodeJS.ReadableStream, {
    repo: 'ocr-test-busybox',
    tag: 'latest',
    changes: ['ENV PATH=/bin', 'WORKDIR /work'],
  });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(progress, (err) => (err ? reject(err) : resolve())),
  );
  await docker.getImage(TEST_IMAGE).inspect();
  return docker;
}

/** Derive the shell-entrypoint variant of the test image (committed from a stopped container). Idempotent. */
export async function ensureShellEntrypointImage(): Promise<Docker> {
  const docker = await ensureTestImage();
  try {
    await docker.getImage(TEST_IMAGE_SH_ENTRYPOINT).inspect();
    return docker;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
  const container = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'] });
  try {
    await container.commit({
      repo: 'ocr-test-busybox',
      tag: 'sh-entrypoint',
      changes: ['ENTRYPOINT ["/bin/sh", "-c"]', 'CMD ["echo default"]'],
    });
  } finally {
    await container.remove({ force: true });
  }
  return docker;
}
