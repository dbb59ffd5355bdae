/**
 * `docker`: one container per step through dockerode against the local engine. Created with labels
 * (`ocr.run_id`, `ocr.attempt`, `ocr.step`) and limits (memory, CPU, pids), network `none` unless the step
 * names one, an init process so signals reach the command; attached BEFORE start so no output is lost,
 * output demultiplexed into stdout/stderr line events; on cancel or timeout `docker stop` (SIGTERM), then
 * `kill` after the grace; removed in every case. `copy_out` files are copied out as artifacts.
 */
import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import Docker from 'dockerode';
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
  /** Memory limit when the step sets none (MiB, default 1024). */
  defaultMemoryMb?: number;
  /** CPU limit when the step sets none (default 1). */
  defaultCpus?: number;
  /** Process limit inside the container (default 1024): a fork bomb stays inside its box. */
  pidsLimit?: number;
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
  const docker =
    options.docker ?? (options.socketPath ? new Docker({ socketPath: options.socketPath }) : new Docker());
  const engine = options.socketPath ?? process.env.DOCKER_HOST ?? '/var/run/docker.sock';
  return defineExecutor('docker', DockerStep, async (step, ctx, stop) => {
    await requireEngine(docker, engine);
    const image = await ensureImage(docker, step.image, options.pull ?? true, ctx, stop);
    if (stop.reason) return stop.result();
    // `host` shares the worker's network namespace, `container:…` another container's: never from a template.
    const network = step.network ?? 'none';
    if (network === 'host' || network.startsWith('container:'))
      throw new ExecutorError(
        'network_refused',
        `network ${network} is not allowed for docker steps (use none, bridge or a named network)`,
      );
    const entrypoint = toArgv(image.Config?.Entrypoint);
    const memoryMb = step.memory_mb ?? options.defaultMemoryMb ?? 1024;
    const cpus = step.cpus ?? options.defaultCpus ?? 1;
    const container = await docker.createContainer({
      name: containerName(ctx),
      Image: step.image,
      ...(step.command
        ? { Cmd: renderContainerCommand(step.command, ctx.params, entrypoint, ctx.secrets) }
        : {}),
      Env: containerEnv(ctx, step.env),
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
        NetworkMode: network,
        // No capability unless the image's process is given one: a root process in the box is not root on the host's terms.
        CapDrop: ['ALL'],
        Memory: memoryMb * 1024 * 1024,
        MemorySwap: memoryMb * 1024 * 1024,
        NanoCpus: Math.round(cpus * 1e9),
        PidsLimit: options.pidsLimit ?? 1024,
        // tini as PID 1: a shell as PID 1 ignores SIGTERM, so `docker stop` would always end in a kill.
        Init: true,
        AutoRemove: false,
        SecurityOpt: ['no-new-privileges'],
      },
    });
    const log = ctx.log.child({ container: container.id.slice(0, 12) });
    try {
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
