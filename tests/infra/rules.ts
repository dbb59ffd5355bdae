/**
 * Cross-field rules the schemas cannot express: every pod drains inside its grace period, every long-running
 * container is probed and sized, nothing starts through npm, and containers run unprivileged. Each rule
 * returns problem lines (empty when fine) so tests can show every violation at once, and can feed the rules
 * deliberately broken objects to prove they bite.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, type K8sObject } from './kustomize.js';

/** The parts of a container the rules read. */
export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  restartPolicy?: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command?: string[] } } };
  securityContext?: SecurityContext;
}
interface Probe {
  httpGet?: { path?: string };
  exec?: { command?: string[] };
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: string[] };
}
/** The parts of a pod spec the rules read. */
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  terminationGracePeriodSeconds?: number;
  securityContext?: SecurityContext & { seccompProfile?: { type?: string } };
}

/** A pod template and the workload that owns it. */
export interface PodOwner {
  kind: string;
  name: string;
  spec: PodSpec;
}

const POD_OWNERS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

/** Every pod template among the objects (Deployments, StatefulSets, DaemonSets, Jobs, KEDA ScaledJobs). */
export function podOwners(objects: K8sObject[]): PodOwner[] {
  return objects.flatMap((o) => {
    if (POD_OWNERS.has(o.kind))
      return [
        {
          kind: o.kind,
          name: o.metadata.name,
          spec: (o.spec as { template: { spec: PodSpec } }).template.spec,
        },
      ];
    if (o.kind === 'ScaledJob')
      return [
        {
          kind: o.kind,
          name: o.metadata.name,
          spec: (o.spec as { jobTargetRef: { template: { spec: PodSpec } } }).jobTargetRef.template.spec,
        },
      ];
    return [];
  });
}

/** The `ocr` subcommand a container runs (api, worker, sweeper, migrate), if it runs the ocr CLI. */
export function ocrCommand(container: Container): string | undefined {
  const argv = [...(container.command ?? []), ...(container.args ?? [])];
  const cli = argv.indexOf('packages/cli/bin/ocr.js');
  return cli >= 0 ? argv[cli + 1] : undefined;
}

function envValue(container: Container, name: string): string | undefined {
  return container.env?.find((e) => e.name === name)?.value;
}

/**
 * Seconds a process may take, after SIGTERM, before it forces its own exit: read from the services' sources
 * (`lifecycle.installSignals(...)`) so a manifest can never fall behind the code it runs.
 */
export function forcedExitSeconds(command: string, container: Container): number {
  const source = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
  const constant = (path: string, pattern: RegExp): number => {
    const match = pattern.exec(source(path));
    if (!match) throw new Error(`${path}: installSignals(...) not found; update tests/infra/rules.ts`);
    return Number(match[1]!.replaceAll('_', '')) / 1000;
  };
  switch (command) {
    case 'api':
      return constant('services/api/src/index.ts', /installSignals\(([\d_]+)\)/);
    case 'sweeper':
      return constant('services/sweeper/src/main.ts', /installSignals\(([\d_]+)\)/);
    case 'worker': {
      const margin = constant(
        'services/worker/src/index.ts',
        /installSignals\(config\.OCR_SHUTDOWN_GRACE_S \* 1000 \+ ([\d_]+)\)/,
      );
      return Number(envValue(container, 'OCR_SHUTDOWN_GRACE_S') ?? 30) + margin;
    }
    default:
      return 0;
  }
}

/** terminationGracePeriodSeconds must exceed preStop sleep + the process's own drain deadline. */
export function gracePeriodProblems(owner: PodOwner): string[] {
  const grace = owner.spec.terminationGracePeriodSeconds ?? 30;
  const problems: string[] = [];
  for (const c of owner.spec.containers) {
    const command = ocrCommand(c);
    if (!command) continue;
    const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
    const drain = forcedExitSeconds(command, c);
    if (!(grace > preStop + drain)) {
      problems.push(
        `${owner.kind}/${owner.name}: terminationGracePeriodSeconds ${grace} <= preStop ${preStop} + drain ${drain} (${c.name})`,
      );
    }
  }
  return problems;
}

/** Long-running containers have liveness and readiness probes (sidecars: a startup or liveness probe). */
export function probeProblems(owner: PodOwner): string[] {
  if (owner.kind === 'Job') return [];
  const problems: string[] = [];
  for (const c of owner.spec.containers) {
    if (!c.livenessProbe || !c.readinessProbe)
      problems.push(`${owner.kind}/${owner.name}: container ${c.name} lacks a liveness or readiness probe`);
    if (ocrCommand(c)) {
      if (c.livenessProbe?.httpGet?.path !== '/healthz')
        problems.push(`${owner.kind}/${owner.name}: ${c.name} liveness must be GET /healthz`);
      if (c.readinessProbe?.httpGet?.path !== '/readyz')
        problems.push(`${owner.kind}/${owner.name}: ${c.name} readiness must be GET /readyz`);
    }
  }
  for (const c of (owner.spec.initContainers ?? []).filter((i) => i.restartPolicy === 'Always')) {
    if (!c.startupProbe && !c.livenessProbe)
      problems.push(`${owner.kind}/${owner.name}: sidecar ${c.name} lacks a startup or liveness probe`);
  }
  return problems;
}

/** Every container, init containers included, requests CPU and memory and has CPU and memory limits. */
export function resourceProblems(owner: PodOwner): string[] {
  const problems: string[] = [];
  for (const c of [...owner.spec.containers, ...(owner.spec.initContainers ?? [])]) {
    for (const kind of ['requests', 'limits'] as const) {
      for (const resource of ['cpu', 'memory']) {
        if (!c.resources?.[kind]?.[resource])
          problems.push(`${owner.kind}/${owner.name}: ${c.name} has no ${kind}.${resource}`);
      }
    }
  }
  return problems;
}

const PACKAGE_MANAGER = /(^|[\s/])(npm|npx|yarn|pnpm)(\s|$)/;

/**
 * Exec-form entrypoints, never through a package manager or a shell: signals must reach node (or tini in
 * front of it), and npm swallows SIGTERM. The ocr CLI runs as `node packages/cli/bin/ocr.js <command>`.
 */
export function commandProblems(owner: PodOwner): string[] {
  const problems: string[] = [];
  for (const c of [...owner.spec.containers, ...(owner.spec.initContainers ?? [])]) {
    const argv = [...(c.command ?? []), ...(c.args ?? [])];
    if (argv.some((arg) => PACKAGE_MANAGER.test(arg)))
      problems.push(
        `${owner.kind}/${owner.name}: ${c.name} starts through a package manager: ${argv.join(' ')}`,
      );
    const shell =
      ['sh', 'bash', '/bin/sh', '/bin/bash'].includes(c.command?.[0] ?? '') && c.command?.includes('-c');
    if (shell)
      problems.push(
        `${owner.kind}/${owner.name}: ${c.name} starts through a shell (signals stop at the shell)`,
      );
    if (ocrCommand(c)) {
      const node = argv.indexOf('node');
      if (node < 0 || argv[node + 1] !== 'packages/cli/bin/ocr.js')
        problems.push(`${owner.kind}/${owner.name}: ${c.name} must run node packages/cli/bin/ocr.js`);
      if (node > 0 && !(argv[0]!.endsWith('tini') && argv[1] === '--' && node === 2))
        problems.push(`${owner.kind}/${owner.name}: ${c.name}: only tini may stand before node`);
    }
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      if (probe?.exec?.command?.some((arg) => PACKAGE_MANAGER.test(arg)))
        problems.push(`${owner.kind}/${owner.name}: ${c.name} probes through a package manager`);
    }
    if (c.lifecycle?.preStop?.exec)
      problems.push(
        `${owner.kind}/${owner.name}: ${c.name} preStop must use the native sleep action, not exec`,
      );
  }
  return problems;
}

/**
 * Pods run as non-root with the runtime's seccomp profile; containers cannot escalate and drop every
 * capability. `privileged` names containers that are allowed to break this (the docker-in-docker engine).
 */
export function securityProblems(owner: PodOwner, privileged: ReadonlySet<string> = new Set()): string[] {
  const problems: string[] = [];
  const pod = owner.spec.securityContext ?? {};
  if (pod.seccompProfile?.type !== 'RuntimeDefault')
    problems.push(`${owner.kind}/${owner.name}: pod seccompProfile must be RuntimeDefault`);
  for (const c of [...owner.spec.containers, ...(owner.spec.initContainers ?? [])]) {
    if (privileged.has(c.name)) continue;
    const sc = c.securityContext ?? {};
    const nonRoot = sc.runAsNonRoot ?? pod.runAsNonRoot;
    const user = sc.runAsUser ?? pod.runAsUser;
    if (nonRoot !== true) problems.push(`${owner.kind}/${owner.name}: ${c.name} must set runAsNonRoot`);
    if (user === 0) problems.push(`${owner.kind}/${owner.name}: ${c.name} runs as uid 0`);
    if (sc.privileged) problems.push(`${owner.kind}/${owner.name}: ${c.name} is privileged`);
    if (sc.allowPrivilegeEscalation !== false)
      problems.push(`${owner.kind}/${owner.name}: ${c.name} must set allowPrivilegeEscalation: false`);
    if (!sc.capabilities?.drop?.includes('ALL'))
      problems.push(`${owner.kind}/${owner.name}: ${c.name} must drop ALL capabilities`);
    if (ocrCommand(c) && sc.readOnlyRootFilesystem !== true)
      problems.push(`${owner.kind}/${owner.name}: ${c.name} must have a read-only root filesystem`);
  }
  return problems;
}

/** Every rule over every pod template of a render. */
export function allWorkloadProblems(
  objects: K8sObject[],
  privileged: ReadonlySet<string> = new Set(),
): string[] {
  return podOwners(objects).flatMap((owner) => [
    ...gracePeriodProblems(owner),
    ...probeProblems(owner),
    ...resourceProblems(owner),
    ...commandProblems(owner),
    ...securityProblems(owner, privileged),
  ]);
}
