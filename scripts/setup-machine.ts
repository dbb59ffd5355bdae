/**
 * What the test suite needs from the machine beyond Node and npm: a running Docker engine (docker
 * executor, conformance and injection suites), a static busybox (the test image is built from it),
 * Chromium (console suites) and kubectl or kustomize (infra suites). `npm test` calls `setUpMachine`
 * first: as root with apt-get it installs what is missing and starts dockerd, one printed line per
 * action; otherwise it stops at once with the exact command to run. Nothing here is skipped silently.
 *
 * Run alone: `node --import tsx scripts/setup-machine.ts [--dry-run] [--with pgbench] [paths...]`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readSync } from 'node:fs';
import { request } from 'node:http';
import { delimiter, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');

/** Where the console suites find Chromium (override with OCR_CHROMIUM_PATH). */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.OCR_CHROMIUM_PATH || '/usr/bin/chromium';
}

/** The static busybox the docker test image is built from (override with OCR_BUSYBOX_PATH). */
export function busyboxPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.OCR_BUSYBOX_PATH || '/bin/busybox';
}

/** The engine socket the docker suites talk to: DOCKER_HOST when it is a unix socket, else the default. */
export function dockerSocket(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  return host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
}

/** One missing part and how to get it. */
export interface Missing {
  /** What the tests lack, for the message. */
  what: string;
  /** Debian/Ubuntu packages that provide it (none when only a daemon must be started). */
  apt: string[];
  /** Start the Docker daemon after installing. */
  startDockerd?: boolean;
}

/** Which parts a run needs, by the test paths it was given (none: the whole suite). */
export type Part = 'docker' | 'debootstrap' | 'chromium' | 'kustomize' | 'pgbench';

const USED_BY: Record<Exclude<Part, 'pgbench'>, string[]> = {
  docker: ['services/worker', 'tests/security', 'tests/images'],
  // The production images' base is a debootstrap rootfs (scripts/build-images.ts): no registry here.
  debootstrap: ['tests/images'],
  chromium: ['tests/console'],
  kustomize: ['tests/infra'],
};

/** The parts needed by `npm test -- args`: every part for the whole suite, else those whose suites are selected. */
export function partsFor(args: string[]): Part[] {
  const paths = args
    .filter((a) => !a.startsWith('-'))
    .map((a) => relative(ROOT, resolve(a)).replaceAll('\\', '/'));
  return (Object.keys(USED_BY) as (keyof typeof USED_BY)[]).filter(
    (part) =>
      paths.length === 0 ||
      paths.some(
        (p) =>
          p === '' ||
          USED_BY[part].some((dir) => p === dir || p.startsWith(`${dir}/`) || dir.startsWith(`${p}/`)),
      ),
  );
}

function onPath(binary: string, env: NodeJS.ProcessEnv): boolean {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** True when `path` is an ELF executable without an interpreter (PT_INTERP), i.e. statically linked. */
export function isStaticElf(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[5] !== 1) return false;
    const is64 = head[4] === 2;
    const phoff = is64 ? Number(head.readBigUInt64LE(0x20)) : head.readUInt32LE(0x1c);
    const phentsize = head.readUInt16LE(is64 ? 0x36 : 0x2a);
    const phnum = head.readUInt16LE(is64 ? 0x38 : 0x2c);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) return false;
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Does the Docker engine answer on `socket`? (GET /_ping, bounded so a dead socket costs little.) */
export function dockerAnswers(socket: string, timeoutMs = 800): Promise<boolean> {
  if (!existsSync(socket)) return Promise.resolve(false);
  return new Promise((done) => {
    const req = request({ socketPath: socket, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(false));
    req.end();
  });
}

/** What is missing for `parts` on this machine, in install order. */
export async function inspectMachine(
  parts: Part[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Missing[]> {
  const missing: Missing[] = [];
  if (parts.includes('docker')) {
    if (!(await dockerAnswers(dockerSocket(env)))) {
      missing.push({
        what: `Docker engine (nothing answers on ${dockerSocket(env)})`,
        apt: onPath('dockerd', env) ? [] : ['docker.io'],
        startDockerd: true,
      });
    }
    if (!isStaticElf(busyboxPath(env)))
      missing.push({
        what: `static busybox at ${busyboxPath(env)} (the docker test image)`,
        apt: ['busybox-static'],
      });
  }
  if (parts.includes('debootstrap') && !onPath('debootstrap', env))
    missing.push({ what: 'debootstrap (the images suite builds its base image)', apt: ['debootstrap'] });
  if (parts.includes('chromium') && !existsSync(chromiumPath(env)))
    missing.push({ what: `Chromium at ${chromiumPath(env)}`, apt: ['chromium'] });
  if (parts.includes('kustomize') && !onPath('kubectl', env) && !onPath('kustomize', env))
    missing.push({ what: 'kubectl or kustomize', apt: ['kubernetes-client'] });
  if (parts.includes('pgbench') && !onPath('pgbench', env))
    missing.push({ what: 'pgbench (the benchmarks)', apt: ['postgresql-contrib'] });
  return missing;
}

const DOCKERD_LOG = '/tmp/ocr-dockerd.log';

/** The one command a person runs to fix `missing` (with sudo when not root). */
export function fixCommand(missing: Missing[], isRoot: boolean): string {
  const packages = [...new Set(missing.flatMap((m) => m.apt))];
  const steps: string[] = [];
  if (packages.length)
    steps.push('apt-get update', `apt-get install -y --no-install-recommends ${packages.join(' ')}`);
  if (missing.some((m) => m.startDockerd)) steps.push(`(dockerd >${DOCKERD_LOG} 2>&1 &)`);
  const script = steps.join(' && ');
  return isRoot ? script : `sudo sh -c '${script}'`;
}

export interface SetupOptions {
  env?: NodeJS.ProcessEnv;
  /** Print the actions without taking them. */
  dryRun?: boolean;
  /** Where the one-line-per-action output goes. */
  write?: (line: string) => void;
  /** Override for tests of the refusal path; defaults to the real uid. */
  isRoot?: boolean;
}

export type SetupResult = { ok: true; actions: string[] } | { ok: false; message: string };

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): boolean {
  return (
    spawnSync(cmd, args, { stdio: 'ignore', env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0
  );
}

async function startDockerd(env: NodeJS.ProcessEnv): Promise<boolean> {
  const log = openSync(DOCKERD_LOG, 'a');
  // Detached: the engine outlives this test run, as a system daemon does.
  spawn('dockerd', [], { env, detached: true, stdio: ['ignore', log, log] }).unref();
  closeSync(log);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await dockerAnswers(dockerSocket(env))) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/**
 * Make the machine ready for `parts`, or say exactly what to run. Root with apt-get installs and
 * starts; anyone else gets `{ ok: false }` with the command, decided without waiting on anything.
 */
export async function setUpMachine(parts: Part[], options: SetupOptions = {}): Promise<SetupResult> {
  const env = options.env ?? process.env;
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const missing = await inspectMachine(parts, env);
  if (missing.length === 0) return { ok: true, actions: [] };
  const refuse = (why: string): SetupResult => ({
    ok: false,
    message: `npm test needs ${missing.map((m) => m.what).join(', ')}; ${why}. Run:\n  ${fixCommand(missing, isRoot)}\nthen npm test again.`,
  });
  if (!isRoot) return refuse('installing them needs root');
  if (!onPath('apt-get', env))
    return refuse("apt-get is not available here (use your distribution's packages for the same parts)");

  const actions: string[] = [];
  const act = (line: string) => {
    actions.push(line);
    write(`[setup] ${line}`);
  };
  const packages = [...new Set(missing.flatMap((m) => m.apt))];
  if (packages.length) {
    act('apt-get update');
    if (!options.dryRun) run('apt-get', ['update', '-qq'], env);
    for (const pkg of packages) {
      act(`apt-get install -y --no-install-recommends ${pkg}`);
      if (!options.dryRun && !run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], env))
        return refuse(`apt-get could not install ${pkg}`);
    }
  }
  if (missing.some((m) => m.startDockerd)) {
    act(`start dockerd (log: ${DOCKERD_LOG})`);
    if (!options.dryRun && !(await startDockerd(env)))
      return refuse(`dockerd did not answer within 60 s (see ${DOCKERD_LOG})`);
  }
  if (!options.dryRun) {
    const still = await inspectMachine(parts, env);
    if (still.length)
      return {
        ok: false,
        message: `npm test still lacks ${still.map((m) => m.what).join(', ')} after installing; run:\n  ${fixCommand(still, isRoot)}`,
      };
  }
  return { ok: true, actions };
}

/** CLI: `--dry-run` prints the plan only; `--with pgbench` adds the benchmarks' part; paths narrow the test parts. */
async function main(argv: string[]): Promise<number> {
  const dryRun = argv.includes('--dry-run');
  const extra: Part[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--dry-run') continue;
    if (arg === '--with') extra.push(argv[++i] as Part);
    else rest.push(arg);
  }
  const parts = [...partsFor(rest), ...extra];
  const result = await setUpMachine(parts, { dryRun });
  if (!result.ok) {
    process.stderr.write(`${result.message}\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
