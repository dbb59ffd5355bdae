/**
 * `docker`: one container per step through dockerode against the local engine. Created with labels
 * (`ocr.run_id`, `ocr.attempt`, `ocr.step`) and a hardened box: a non-root user, a read-only root filesystem
 * whose only writable places are `/ocr/work` (HOME) and `/ocr/tmp` (TMPDIR) on a per-container volume (kept
 * until removal so `copy_out` can read it), every capability dropped (unless the step keeps some the worker allows), no new privileges,
 * memory/CPU/pids limits within the worker's maxima, network `none` unless the step names one the worker
 * allows, and an init process so signals reach the command. Attached BEFORE start so no output is lost,
 * output demultiplexed into stdout/stderr line events; on cancel or timeout `docker stop` (SIGTERM), then
 * `kill` after the grace; removed in every case (with its volume). `copy_out` files are copied out.
 */
import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type Docker from 'dockerode';
import { pack } from 'tar-stream';
import { OutputFramer } from '../output/index.js';
import { renderContainerCommand } from '../params/index.js';
import { copyOut } from './docker-copy-out.js';
import { defineExecutor } from './define-executor.js';
import { containerEnv } from './process-env.js';
import type { StepStop } from './step-stop.js';
import { DockerStep } from './step-schemas.js';
import { ExecutorError, stepResult, type StepContext, type StepExecutor } from './types.js';

/** How the docker executor reaches the engine and what it applies to every container. */
export interface DockerExecutorOptions {
  /** A client to use; by default one on `socketPath`. */
  docker?: Docker;
  /** The engine's socket; by default `DOCKER_HOST` (e.g. a Docker-in-Docker sidecar), else `/var/run/docker.sock`. */
  socketPath?: string;
  /** Memory limit when the step sets none (MiB, default 1024, at most `maxMemoryMb`). */
  defaultMemoryMb?: number;
  /** Highest memory limit a step may ask for (MiB, default 4096; OCR_DOCKER_MAX_MEMORY_MB). */
  maxMemoryMb?: number;
  /** CPU limit when the step sets none (default 1, at most `maxCpus`). */
  defaultCpus?: number;
  /** Highest CPU limit a step may ask for (default 2; OCR_DOCKER_MAX_CPUS). */
  maxCpus?: number;
  /** Process limit when the step sets none (default 1024, at most `maxPids`): a fork bomb stays inside its box. */
  pidsLimit?: number;
  /** Highest process limit a step may ask for (default 1024; OCR_DOCKER_MAX_PIDS). */
  maxPids?: number;
  /** The user containers run as (default `65534:65534`, nobody; empty: the image's own user). OCR_DOCKER_USER. */
  user?: string;
  /** Networks a step may name (default `none`, `bridge`; OCR_DOCKER_NETWORKS). `host`/`container:…` never. */
  networks?: readonly string[];
  /** Capabilities a step may keep with `cap_add` (default none; OCR_DOCKER_CAP_ALLOWLIST). */
  capAllowlist?: readonly string[];
  /** Pull an image that is not present (default true). */
  pull?: boolean;
  /** Most bytes `copy_out` copies per step (default 256 MiB). */
  copyOutMaxBytes?: number;
}

/** Labels put on every container, so operators (and a janitor) can find them. */
export const CONTAINER_LABELS = {
  runId: 'ocr.run_id',
  attempt: 'ocr.attempt',
  step: 'ocr.step',
  managed: 'ocr.managed',
} as const;

/** A docker executor on the local engine. */
export function createDockerExecutor(options: DockerExecutorOptions = {}): StepExecutor {
  // With no socket given, dockerode's modem reads DOCKER_HOST itself (unix://, tcp://) and falls back to
  // /var/run/docker.sock: the Docker-in-Docker component relies on that.
  // dockerode (and its SSH stack) loads with the first docker step, not with every worker: most workers
  // never run one, and each module loaded at start is worker cold-start time (bench/RESULTS.md).
  let client: Docker | undefined = options.docker;
  const engineClient = async (): Promise<Docker> => {
    if (client) return client;
    const { default: Dockerode } = await import('dockerode');
    client = options.socketPath ? new Dockerode({ socketPath: options.socketPath }) : new Dockerode();
    return client;
  };
  const engine = options.socketPath ?? process.env.DOCKER_HOST ?? '/var/run/docker.sock';
  return defineExecutor('docker', DockerStep, async (step, ctx, stop) => {
    const docker = await engineClient();
    await requireEngine(docker, engine);
    const image = await ensureImage(docker, step.image, options.pull ?? true, ctx, stop);
    if (stop.reason) return stop.result();
    const box = boxOf(step, options);
    const entrypoint = toArgv(image.Config?.Entrypoint);
    const { memoryMb } = box;
    // The image's own working directory is kept (its commands may rely on it); otherwise the writable one.
    const workingDir = image.Config?.WorkingDir || WORK_DIR;
    const container = await docker.createContainer({
      name: containerName(ctx),
      Image: step.image,
      ...(step.command
        ? { Cmd: renderContainerCommand(step.command, ctx.params, entrypoint, ctx.secrets) }
        : {}),
      // HOME and TMPDIR point at the writable places (the root filesystem is read-only); the step's env may change them.
      Env: [`HOME=${WORK_DIR}`, `TMPDIR=${TMP_DIR}`, ...containerEnv(ctx, step.env)],
      WorkingDir: workingDir,
      ...(box.user ? { User: box.user } : {}),
      Labels: {
        [CONTAINER_LABELS.runId]: ctx.runId,
        [CONTAINER_LABELS.attempt]: String(ctx.attempt),
        [CONTAINER_LABELS.step]: ctx.stepName,
        [CONTAINER_LABELS.managed]: 'true',
      },
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      OpenStdin: false,
      HostConfig: {
        NetworkMode: box.network,
        // No capability unless the step keeps one the worker allows: even a root process in the box is powerless.
        CapDrop: ['ALL'],
        ...(box.capAdd.length ? { CapAdd: box.capAdd } : {}),
        Memory: memoryMb * 1024 * 1024,
        MemorySwap: memoryMb * 1024 * 1024,
        NanoCpus: Math.round(box.cpus * 1e9),
        PidsLimit: box.pids,
        ReadonlyRootfs: true,
        // The writable directories: an anonymous volume (not a tmpfs, whose files are gone once the container
        // stops, before copy_out reads them), removed with the container.
        Mounts: [{ Type: 'volume', Source: '', Target: VOLUME_DIR }],
        // tini as PID 1: a shell as PID 1 ignores SIGTERM, so `docker stop` would always end in a kill.
        Init: true,
        AutoRemove: false,
        SecurityOpt: ['no-new-privileges'],
      },
    });
    const log = ctx.log.child({ container: container.id.slice(0, 12) });
    try {
      // A fresh volume's root belongs to root: world-writable (sticky) `work` and `tmp` in it serve any user.
      await container.putArchive(await workDirArchive(), { path: VOLUME_DIR });
      const framer = new OutputFramer(ctx.emit, ctx.output);
      const output = await attachOutput(container, framer);
      if (stop.reason) return stop.result();
      await container.start();
      let exited = false;
      stop.escalateWith({
        gentle: {
          message: 'docker stop: SIGTERM sent to the container',
          data: { container: container.id, signal: 'SIGTERM' },
          run: () => ignoreGone(container.stop({ t: Math.max(1, Math.ceil(ctx.killGraceMs / 1000)) })),
        },
        force: {
          message: 'docker kill: SIGKILL sent to the container',
          data: { container: container.id, signal: 'SIGKILL' },
          run: () => ignoreGone(container.kill()),
        },
        finished: () => exited,
      });
      ctx.emit({
        level: 'debug',
        type: 'container.started',
        message: `container ${container.id.slice(0, 12)} started from ${step.image}`,
        data: { container: container.id, image: step.image },
      });
      const waited = (await container.wait()) as { StatusCode: number };
      exited = true;
      // The attach stream ends right after the exit; a bounded wait keeps a wedged engine from hanging the step.
      await Promise.race([output.ended, delay(5000, undefined, { ref: false })]);
      const summary = framer.end();
      if (stop.reason) return stop.result();
      const state = (await container.inspect()).State;
      if (state.OOMKilled)
        return stepResult.failed(
          'oom_killed',
          `container ran out of memory (limit ${memoryMb} MiB)`,
          waited.StatusCode,
        );
      if (waited.StatusCode !== 0)
        return stepResult.failed('exit_code', `exit code ${waited.StatusCode}`, waited.StatusCode);
      if (step.copy_out?.length)
        await copyOut(container, step.copy_out, ctx, options.copyOutMaxBytes ?? 256 * 1024 * 1024);
      return stepResult.succeeded({
        exit_code: 0,
        container: container.id,
        output_bytes: summary.bytes,
        output_truncated: summary.truncated,
      });
    } finally {
      // Always removed, running or not (force), with its anonymous volumes.
      await container.remove({ force: true, v: true }).catch((err: unknown) => {
        if ((err as { statusCode?: number }).statusCode !== 404) log.warn({ err }, 'container remove failed');
      });
    }
  });
}

/** Where the writable volume is mounted, and the work directory in it. */
const VOLUME_DIR = '/ocr';
export const WORK_DIR = '/ocr/work';
export const TMP_DIR = '/ocr/tmp';

/** What a step gets, within what the worker allows (a limit above a maximum fails the step: never silently less). */
interface Box {
  network: string;
  memoryMb: number;
  cpus: number;
  pids: number;
  capAdd: string[];
  user: string;
}

function boxOf(
  step: { network?: string; memory_mb?: number; cpus?: number; pids_limit?: number; cap_add?: string[] },
  options: DockerExecutorOptions,
): Box {
  // `host` shares the worker's network namespace, `container:…` another container's: never from a template.
  const network = step.network ?? 'none';
  const networks = options.networks ?? ['none', 'bridge'];
  if (network === 'host' || network.startsWith('container:') || !networks.includes(network))
    throw new ExecutorError(
      'network_refused',
      `network ${network} is not allowed for docker steps on this worker (allowed: ${networks.join(', ') || 'none'}; OCR_DOCKER_NETWORKS)`,
    );
  const limit = (
    name: string,
    asked: number | undefined,
    fallback: number,
    max: number,
    variable: string,
  ) => {
    if (asked !== undefined && asked > max)
      throw new ExecutorError(
        'limit_exceeded',
        `${name} ${asked} is above this worker's maximum of ${max} (${variable})`,
      );
    return asked ?? Math.min(fallback, max);
  };
  const allowed = new Set((options.capAllowlist ?? []).map(capName));
  const capAdd = (step.cap_add ?? []).map(capName);
  const refused = capAdd.filter((cap) => !allowed.has(cap));
  if (refused.length)
    throw new ExecutorError(
      'capability_refused',
      `cap_add ${refused.join(', ')} is not allowed on this worker (allowed: ${[...allowed].join(', ') || 'none'}; OCR_DOCKER_CAP_ALLOWLIST)`,
    );
  return {
    network,
    memoryMb: limit(
      'memory_mb',
      step.memory_mb,
      options.defaultMemoryMb ?? 1024,
      options.maxMemoryMb ?? 4096,
      'OCR_DOCKER_MAX_MEMORY_MB',
    ),
    cpus: limit('cpus', step.cpus, options.defaultCpus ?? 1, options.maxCpus ?? 2, 'OCR_DOCKER_MAX_CPUS'),
    pids: limit(
      'pids_limit',
      step.pids_limit,
      options.pidsLimit ?? 1024,
      options.maxPids ?? 1024,
      'OCR_DOCKER_MAX_PIDS',
    ),
    capAdd,
    user: options.user ?? '65534:65534',
  };
}

/** `NET_ADMIN` and `CAP_NET_ADMIN` are one capability. */
function capName(cap: string): string {
  return cap.toUpperCase().replace(/^CAP_/, '');
}

/** A tar holding two directories, `work` and `tmp`, mode 1777 (like /tmp: anyone may create, only owners delete). */
async function workDirArchive(): Promise<Buffer> {
  const archive = pack();
  for (const name of ['work', 'tmp'])
    archive.entry({ name, type: 'directory', mode: 0o1777, uid: 0, gid: 0 });
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A clear, typed error when there is no engine, instead of a socket error deep in a stack. */
async function requireEngine(docker: Docker, engine: string): Promise<void> {
  try {
    await docker.ping();
  } catch (err) {
    throw new ExecutorError(
      'docker_unavailable',
      `docker engine unavailable at ${engine}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** The image's config; pulled first when missing (and allowed), the pull stopped on cancel or timeout. */
async function ensureImage(
  docker: Docker,
  name: string,
  pull: boolean,
  ctx: StepContext,
  stop: StepStop,
): Promise<Docker.ImageInspectInfo> {
  try {
    return await docker.getImage(name).inspect();
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    if (!pull)
      throw new ExecutorError(
        'image_unavailable',
        `image ${name} is not present on this worker (pulling is off)`,
      );
  }
  ctx.emit({ level: 'info', type: 'image.pull', message: `pulling ${name}`, data: { image: name } });
  try {
    const progress = (await docker.pull(name)) as NodeJS.ReadableStream & { destroy(): void };
    const abort = () => progress.destroy();
    stop.signal.addEventListener('abort', abort, { once: true });
    try {
      await new Promise<void>((resolve, reject) =>
        docker.modem.followProgress(progress, (err: Error | null) => (err ? reject(err) : resolve())),
      );
    } finally {
      stop.signal.removeEventListener('abort', abort);
    }
  } catch (err) {
    if (stop.reason) throw err;
    throw new ExecutorError(
      'image_unavailable',
      `image ${name} could not be pulled: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return docker.getImage(name).inspect();
}

/** Attach to the container's output and feed the framer; `ended` resolves when the output stream ends. */
async function attachOutput(
  container: Docker.Container,
  framer: OutputFramer,
): Promise<{ ended: Promise<void> }> {
  const stream = await container.attach({ stream: true, stdout: true, stderr: true });
  const sink = (name: string) =>
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        framer.write(name, chunk);
        callback();
      },
    });
  container.modem.demuxStream(stream, sink('stdout'), sink('stderr'));
  // Wrapped in an object: an async function returning a bare promise would wait for it.
  const ended = new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
  return { ended };
}

/** A stop or kill of a container that has already gone is not an error. */
async function ignoreGone(operation: Promise<unknown>): Promise<void> {
  try {
    await operation;
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== 304 && status !== 404 && status !== 409) throw err;
  }
}

function toArgv(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string' && value) return [value];
  return [];
}

/** A readable, unique container name: `ocr-<run>-a<attempt>-<step>-<random>`. */
function containerName(ctx: StepContext): string {
  const step = ctx.stepName
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .slice(0, 40);
  return `ocr-${ctx.runId.slice(0, 8)}-a${ctx.attempt}-${step}-${Math.random().toString(36).slice(2, 8)}`;
}
