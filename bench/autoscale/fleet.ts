/**
 * Simulated pods: each is a real `ocr worker` process with its pod template's environment (durations scaled
 * with the simulation clock), stopped the way the kubelet stops a container: SIGTERM, then SIGKILL when
 * terminationGracePeriodSeconds runs out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { PodTemplate } from './manifests.js';

const OCR = fileURLToPath(new URL('../../packages/cli/bin/ocr.js', import.meta.url));

/** Pod-template variables that are durations in seconds: scaled like every other time of the simulation. */
const DURATIONS = ['OCR_SHUTDOWN_GRACE_S', 'OCR_EXIT_WHEN_IDLE_S', 'OCR_KILL_GRACE_S'];

export interface Pod {
  name: string;
  group: string;
  child: ChildProcess;
  createdAt: number;
  /** Wall-clock ms when the worker said it started (its readiness). */
  readyAt?: number;
  terminatingAt?: number;
  exitedAt?: number;
  exitCode?: number | null;
  killed: boolean;
  exited: Promise<void>;
}

export class Fleet {
  readonly pods: Pod[] = [];
  private seq = 0;

  constructor(
    private readonly env: Record<string, string>,
    /** Wall seconds per cluster second. */
    private readonly scale: number,
    /** Prefix of pod names, unique per scenario: a worker id must never be reused by another process. */
    private readonly prefix = '',
  ) {}

  /** Create a pod (start a worker process) from a template. */
  start(group: string, template: PodTemplate): Pod {
    const name = `${this.prefix}${group}-${++this.seq}`;
    const env: Record<string, string> = { ...process.env, ...this.env } as Record<string, string>;
    for (const [key, value] of Object.entries(template.env)) {
      // Every pod has its own port and temp dir here; a mounted Secret's path exists only in a real pod.
      if (key === 'PORT' || key === 'OCR_WORK_DIR' || key === 'OCR_SECRETS_DIR') continue;
      env[key] = DURATIONS.includes(key) ? String(Number(value) * this.scale) : value;
    }
    Object.assign(env, { OCR_WORKER_ID: name, PORT: '0', OCR_LOG_LEVEL: 'info' });
    const child = spawn(process.execPath, [OCR, 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const pod: Pod = {
      name,
      group,
      child,
      createdAt: Date.now(),
      killed: false,
      exited: undefined as unknown as Promise<void>,
    };
    pod.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        pod.exitedAt = Date.now();
        pod.exitCode = code;
        resolve();
      }),
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!pod.readyAt && line.includes('"msg":"worker started"')) {
        pod.readyAt = Date.now();
        if (process.env.SIM_VERBOSE)
          process.stderr.write(`${name} ready after ${pod.readyAt - pod.createdAt} ms\n`);
      }
      if (process.env.SIM_LOGS) process.stderr.write(`${name} ${line}\n`);
    });
    child.stderr!.on('data', (d) => process.stderr.write(`${name}: ${d}`));
    this.pods.push(pod);
    return pod;
  }

  /** Delete a pod: SIGTERM now, SIGKILL after the template's grace (scaled), as the kubelet does. */
  terminate(pod: Pod, template: PodTemplate): void {
    if (pod.terminatingAt || pod.exitedAt) return;
    pod.terminatingAt = Date.now();
    pod.child.kill('SIGTERM');
    const timer = setTimeout(
      () => {
        if (pod.exitedAt) return;
        pod.killed = true;
        pod.child.kill('SIGKILL');
      },
      template.terminationGracePeriodSeconds * this.scale * 1000,
    );
    void pod.exited.then(() => clearTimeout(timer));
  }

  /** Pods of a group whose process is still there (terminating ones included). */
  alive(group: string): Pod[] {
    return this.pods.filter((p) => p.group === group && p.exitedAt === undefined);
  }

  /** Pods of a group that count as replicas: alive and not terminating. */
  replicas(group: string): Pod[] {
    return this.alive(group).filter((p) => p.terminatingAt === undefined);
  }

  async stopAll(): Promise<void> {
    for (const pod of this.pods) if (pod.exitedAt === undefined) pod.child.kill('SIGKILL');
    await Promise.all(this.pods.map((p) => p.exited));
  }
}

/**
 * The ReplicaSet's choice of pods to delete on scale-down (kubernetes ActivePodsWithRanks, no deletion cost):
 * not-ready before ready, then the most recently ready, then the newest. It cannot see which workers are busy.
 */
export function scaleDownVictims(pods: Pod[], count: number): Pod[] {
  const ranked = [...pods].sort((a, b) => {
    if (!a.readyAt !== !b.readyAt) return a.readyAt ? 1 : -1;
    if (a.readyAt && b.readyAt && a.readyAt !== b.readyAt) return b.readyAt - a.readyAt;
    return b.createdAt - a.createdAt;
  });
  return ranked.slice(0, count);
}
