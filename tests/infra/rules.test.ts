// The cross-field rules bite: each takes the rendered base, breaks one thing, and must report it.
import t from 'tap';
import { renderWithComponents, type K8sObject } from './kustomize.js';
import { schemaProblem } from './schemas.js';
import {
  commandProblems,
  gracePeriodProblems,
  podOwners,
  probeProblems,
  resourceProblems,
  securityProblems,
  type PodOwner,
} from './rules.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const base = renderWithComponents([]);

/** A fresh, deep copy of one workload of the base render, to break. */
function owner(name: string): PodOwner {
  const found = podOwners(structuredClone(base)).find((o) => o.name === name);
  if (!found) throw new Error(`no workload ${name}`);
  return found;
}

t.test('the base passes every rule, so each failure below comes from its mutation', async (t) => {
  for (const o of podOwners(base)) {
    t.same(
      [
        ...gracePeriodProblems(o),
        ...probeProblems(o),
        ...resourceProblems(o),
        ...commandProblems(o),
        ...securityProblems(o),
      ],
      [],
      o.name,
    );
  }
});

t.test('grace period: a worker whose drain outgrows the pod grace period is reported', async (t) => {
  const worker = owner('ocr-worker');
  const env = worker.spec.containers[0]!.env!.find((e) => e.name === 'OCR_SHUTDOWN_GRACE_S')!;
  env.value = '60';
  t.match(gracePeriodProblems(worker), [/terminationGracePeriodSeconds 45 <= preStop 0 \+ drain 65/]);
});

t.test('grace period: the API preStop sleep counts against the grace period', async (t) => {
  const api = owner('ocr-api');
  api.spec.containers[0]!.lifecycle!.preStop!.sleep!.seconds = 30;
  t.match(gracePeriodProblems(api), [/preStop 30 \+ drain 20/]);
});

t.test('probes: a missing readiness probe and a wrong liveness path are reported', async (t) => {
  const sweeper = owner('ocr-sweeper');
  delete sweeper.spec.containers[0]!.readinessProbe;
  sweeper.spec.containers[0]!.livenessProbe!.httpGet!.path = '/metrics';
  const problems = probeProblems(sweeper);
  t.match(problems, [
    /lacks a liveness or readiness probe/,
    /liveness must be GET \/healthz/,
    /readiness must be GET \/readyz/,
  ]);
});

t.test('resources: a container without a memory limit is reported', async (t) => {
  const api = owner('ocr-api');
  delete api.spec.containers[0]!.resources!.limits!.memory;
  t.match(resourceProblems(api), [/has no limits.memory/]);
});

t.test('commands: npm, a shell wrapper, or anything but tini before node is reported', async (t) => {
  const viaNpm = owner('ocr-worker');
  viaNpm.spec.containers[0]!.command = ['npm', 'run', 'worker'];
  viaNpm.spec.containers[0]!.args = [];
  t.match(commandProblems(viaNpm), [/starts through a package manager/]);

  const viaShell = owner('ocr-worker');
  viaShell.spec.containers[0]!.command = ['sh', '-c', 'node packages/cli/bin/ocr.js worker'];
  viaShell.spec.containers[0]!.args = [];
  t.match(commandProblems(viaShell), [/starts through a shell/]);

  const wrapped = owner('ocr-api');
  wrapped.spec.containers[0]!.command = ['/usr/bin/env', 'node', 'packages/cli/bin/ocr.js'];
  t.match(commandProblems(wrapped), [/only tini may stand before node/]);

  const execSleep = owner('ocr-api');
  execSleep.spec.containers[0]!.lifecycle = { preStop: { exec: { command: ['sleep', '10'] } } };
  t.match(commandProblems(execSleep), [/native sleep action/]);
});

t.test('security: root, privilege escalation and kept capabilities are reported', async (t) => {
  const api = owner('ocr-api');
  api.spec.securityContext!.runAsNonRoot = false;
  api.spec.containers[0]!.securityContext = { allowPrivilegeEscalation: true, runAsUser: 0 };
  const problems = securityProblems(api);
  t.match(problems, [
    /must set runAsNonRoot/,
    /runs as uid 0/,
    /allowPrivilegeEscalation/,
    /drop ALL/,
    /read-only root/,
  ]);
  t.same(securityProblems(api, new Set(['api'])), [], 'an explicitly privileged container is exempt');
});

t.test('schemas: a wrongly typed field and an unknown kind are reported', async (t) => {
  const broken = structuredClone(base.find((o) => o.kind === 'Deployment')!) as K8sObject & {
    spec: { replicas: unknown };
  };
  broken.spec.replicas = 'two';
  t.match(await schemaProblem(broken), /replicas must be integer/);
  t.match(await schemaProblem({ ...broken, kind: 'Deploymnet' }), /no schema for kind Deploymnet/);
  t.match(await schemaProblem({ ...broken, apiVersion: 'extensions/v1beta1' }), /no schema for apiVersion/);
});

t.test('schemas: unknown and misspelled fields are reported, as the API server does', async (t) => {
  const deployment = structuredClone(base.find((o) => o.kind === 'Deployment')!) as Any;
  t.equal(await schemaProblem(deployment), undefined, 'the rendered Deployment is valid');
  deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
  deployment.spec.template.spec.containers[0].resources.limit = { cpu: '1' };
  deployment.spec.strategy.rollingUpdate.maxUnavaliable = 1;
  const problem = await schemaProblem(deployment);
  t.match(problem, /securityContext\.readOnlyRootFileSystem: unknown field/);
  t.match(problem, /resources\.limit: unknown field/);
  t.match(problem, /rollingUpdate\.maxUnavaliable: unknown field/);
  const labelled = structuredClone(base.find((o) => o.kind === 'Deployment')!) as Any;
  labelled.metadata.labels['any.example/key'] = 'v';
  labelled.spec.template.metadata.annotations = { 'free-form': 'yes' };
  t.equal(await schemaProblem(labelled), undefined, 'maps (labels, annotations) take any key');

  const keda = renderWithComponents(['keda-autoscaling']);
  const scaled = structuredClone(keda.find((o) => o.kind === 'ScaledObject')!) as Any;
  t.equal(await schemaProblem(scaled), undefined, 'the ScaledObject is valid against the KEDA CRD');
  scaled.spec.triggers[0].metricTyp = 'AverageValue';
  scaled.spec.advanced.scalingModifiers.metricType = 'Utilization';
  scaled.spec.minReplicaCount = -1;
  const kedaProblem = await schemaProblem(scaled);
  t.match(kedaProblem, /triggers\[0\]\.metricTyp: unknown field/);
  t.match(kedaProblem, /scalingModifiers\.metricType: must be one of AverageValue, Value/);
  t.match(kedaProblem, /minReplicaCount: below 0/);

  const monitoring = renderWithComponents(['monitoring']);
  const rule = structuredClone(monitoring.find((o) => o.kind === 'PrometheusRule')!) as Any;
  rule.spec.groups[0].rules[0].expresion = 'up';
  t.match(await schemaProblem(rule), /rules\[0\]\.expresion: unknown field/);
});
