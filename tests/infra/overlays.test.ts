// What each overlay and component promises, checked on the rendered objects.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import {
  find,
  parseObjects,
  render,
  renderWithComponents,
  K8S_ROOT,
  REPO_ROOT,
  type K8sObject,
} from './kustomize.js';
import { podOwners, type Container } from './rules.js';

const local = render(join(K8S_ROOT, 'overlays/local'));
const production = render(join(K8S_ROOT, 'overlays/doks-production'));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const container = (objects: K8sObject[], deployment: string): Container =>
  find<Any>(objects, 'Deployment', deployment).spec.template.spec.containers[0];
const env = (c: Container, name: string) => c.env?.find((e) => e.name === name)?.value;

/** Every kustomization.yaml under infra/k8s, parsed. */
function kustomizations(): { path: string; doc: Any }[] {
  const out: { path: string; doc: Any }[] = [];
  for (const entry of readdirSync(K8S_ROOT, { recursive: true, encoding: 'utf8' })) {
    if (entry.endsWith('kustomization.yaml'))
      out.push({ path: entry, doc: parse(readFileSync(join(K8S_ROOT, entry), 'utf8')) });
  }
  return out;
}

t.test('kustomizations use labels: and patches:, never the deprecated fields', async (t) => {
  const all = kustomizations();
  t.ok(all.length >= 8, `found ${all.length} kustomizations`);
  for (const { path, doc } of all) {
    for (const deprecated of ['commonLabels', 'patchesStrategicMerge', 'patchesJson6902', 'bases', 'vars']) {
      t.notOk(deprecated in doc, `${path} does not use ${deprecated}`);
    }
  }
});

t.test('no overlay combines the two worker autoscalers', async (t) => {
  for (const { path, doc } of kustomizations().filter((k) => k.path.startsWith('overlays/'))) {
    const components: string[] = doc.components ?? [];
    const both =
      components.some((c) => c.endsWith('keda-autoscaling')) &&
      components.some((c) => c.endsWith('hpa-external'));
    t.notOk(both, `${path} uses at most one of keda-autoscaling and hpa-external`);
  }
});

t.test('base: processes, replicas, migration Job, service accounts, no Kubernetes API rights', async (t) => {
  for (const objects of [local, production]) {
    t.equal(find<Any>(objects, 'Deployment', 'ocr-sweeper').spec.replicas, 2, 'two sweeper replicas');
    const job = find<Any>(objects, 'Job', 'ocr-migrate');
    t.same(job.spec.template.spec.containers[0].args, ['migrate']);
    for (const sa of ['ocr-api', 'ocr-worker', 'ocr-sweeper', 'ocr-migrate'])
      t.equal(
        find<Any>(objects, 'ServiceAccount', sa).automountServiceAccountToken,
        false,
        `${sa} mounts no token by default`,
      );
    // No process calls the Kubernetes API, so none is granted anything (the pod-deletion-cost claim is gone).
    for (const kind of [
      'Role',
      'RoleBinding',
      'ClusterRole',
      'ClusterRoleBinding',
      'ValidatingAdmissionPolicy',
    ])
      t.same(
        objects.filter((o) => o.kind === kind).map((o) => o.metadata.name),
        [],
        `no ${kind}`,
      );
    for (const name of ['ocr-api', 'ocr-sweeper', 'ocr-worker']) find(objects, 'PodDisruptionBudget', name);
  }
});

t.test(
  'no pod can read a Kubernetes token: none mounted, none projected, no worker holds database or bucket credentials',
  async (t) => {
    const renders = {
      local,
      production,
      'base+keda-job-mode': renderWithComponents(['keda-job-mode']),
      'base+docker-in-docker': renderWithComponents(['docker-in-docker']),
    };
    for (const [name, objects] of Object.entries(renders)) {
      for (const owner of podOwners(objects)) {
        const spec = owner.spec as Any;
        t.equal(
          spec.automountServiceAccountToken,
          false,
          `${name}: ${owner.kind}/${owner.name} mounts no token`,
        );
        const projected = (spec.volumes ?? []).filter((v: Any) =>
          (v.projected?.sources ?? []).some((s: Any) => s.serviceAccountToken),
        );
        t.same(projected, [], `${name}: ${owner.kind}/${owner.name} projects no service-account token`);
      }
    }
    const worker = container(production, 'ocr-worker');
    const secretKeys = (worker.env ?? []).flatMap((e: Any) =>
      e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef.key] : [],
    );
    t.same(secretKeys, ['worker-token'], 'the worker reads only its token');
    t.notMatch(JSON.stringify(production), /pod-deletion-cost/, 'nothing claims pod-deletion-cost');
  },
);

t.test('secret.example.yaml documents every key the manifests read, with placeholders only', async (t) => {
  const [example] = parseObjects(readFileSync(join(K8S_ROOT, 'base/secret.example.yaml'), 'utf8')) as Any[];
  const documented = Object.keys(example.stringData).sort();
  const used = new Set<string>();
  const walk = (node: Any): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      if (node.secretKeyRef?.name === 'ocr-secrets') used.add(node.secretKeyRef.key);
      if (node.name === 'ocr-secrets' && typeof node.key === 'string') used.add(node.key);
      Object.values(node).forEach(walk);
    }
  };
  walk(production);
  t.same(
    [...used].sort().filter((k) => !documented.includes(k)),
    [],
    'every key read is documented',
  );
  for (const [key, value] of Object.entries<string>(example.stringData))
    t.match(value, /^REPLACE_ME/, `${key} is a placeholder`);
  const kustomization = readFileSync(join(K8S_ROOT, 'base/kustomization.yaml'), 'utf8');
  t.notMatch(kustomization, /^\s*-\s*secret\.example\.yaml/m, 'the example is never applied');
  t.notOk(
    production.some((o) => o.kind === 'Secret'),
    'production renders no Secret (created out of band)',
  );
});

t.test('local overlay: local image, in-cluster postgres, dev secret wired by hash', async (t) => {
  for (const name of ['ocr-api', 'ocr-worker', 'ocr-sweeper'])
    t.equal(container(local, name).image, 'ocr:dev');
  find(local, 'StatefulSet', 'postgres');
  const secret = local.find((o) => o.kind === 'Secret')!;
  t.match(secret.metadata.name, /^ocr-secrets-/);
  const ref = (container(local, 'ocr-api').env as Any[]).find((e) => e.name === 'DATABASE_URL').valueFrom
    .secretKeyRef.name;
  t.equal(ref, secret.metadata.name, 'references follow the generated name');
  t.equal(find<Any>(local, 'Ingress', 'ocr-api').spec.rules[0].host, 'ocr.localtest.me');
});

t.test('production overlay: DOCR image pins, DO load balancer, migrations only from the Job', async (t) => {
  for (const owner of podOwners(production)) {
    for (const c of owner.spec.containers) {
      // `unpinned` is the marker infra/k8s/deploy.sh replaces with the pushed digest (deploy-script.test.ts).
      t.match(
        c.image,
        /^registry\.digitalocean\.com\/[a-z0-9-]+\/ocr:unpinned$/,
        `${owner.name} pulls from DOCR, pinned at deploy`,
      );
    }
  }
  const service = find<Any>(production, 'Service', 'ocr-api');
  t.equal(service.spec.type, 'LoadBalancer');
  const annotations = service.metadata.annotations;
  const idle = Number(annotations['service.beta.kubernetes.io/do-loadbalancer-http-idle-timeout-seconds']);
  const apiConfig = readFileSync(join(REPO_ROOT, 'services/api/src/config.ts'), 'utf8');
  const ping = Number(/OCR_WS_PING_S: Type\.Number\(\{ default: (\d+)/.exec(apiConfig)?.[1] ?? 20);
  t.ok(idle >= 30 && idle <= 600, 'idle timeout inside DigitalOcean’s 30–600 s range');
  t.ok(idle >= 3 * ping, `idle timeout ${idle}s outlasts three WebSocket pings (${ping}s)`);
  t.equal(annotations['service.beta.kubernetes.io/do-loadbalancer-healthcheck-path'], '/readyz');
  // Regression: an id pinned here goes stale at the first Let's Encrypt renewal and every deploy re-applies it.
  t.notOk(
    'service.beta.kubernetes.io/do-loadbalancer-certificate-id' in annotations,
    'no certificate id: it changes at every renewal',
  );
  t.match(
    annotations['service.beta.kubernetes.io/do-loadbalancer-certificate-name'],
    /^REPLACE_WITH_|^[a-z0-9][a-z0-9-]*$/,
    'the certificate by name',
  );
  t.notOk(
    production.some((o) => o.kind === 'Ingress'),
    'the load balancer replaces the Ingress',
  );
  t.equal(env(container(production, 'ocr-api'), 'OCR_MIGRATE'), 'false');
  t.equal(env(container(local, 'ocr-api'), 'OCR_MIGRATE'), 'true');
  const config = production.find((o) => o.kind === 'ConfigMap') as Any;
  t.match(config.data.OCR_S3_ENDPOINT, /^https:\/\/[a-z0-9]+\.digitaloceanspaces\.com$/);
  t.equal(config.data.OCR_LOG_LEVEL, 'info', 'merge keeps base values');
  // Regression: DOKS' registry integration patches only the `default` ServiceAccount; ours pull with their own.
  const accounts = new Set(podOwners(production).map((o) => (o.spec as Any).serviceAccountName));
  t.same([...accounts].sort(), ['ocr-api', 'ocr-migrate', 'ocr-sweeper', 'ocr-worker']);
  for (const name of accounts)
    t.same(
      find<Any>(production, 'ServiceAccount', name).imagePullSecrets,
      [{ name: 'ocr-registry' }],
      `${name} names the DOCR pull secret`,
    );
});

t.test('keda-autoscaling: per-lane metrics-api triggers, scale to zero, fast up and slow down', async (t) => {
  const objects = renderWithComponents(['keda-autoscaling']);
  const scaled = find<Any>(objects, 'ScaledObject', 'ocr-worker');
  const lanes = env(container(objects, 'ocr-worker'), 'OCR_LANES')!.split(',');
  t.equal(scaled.spec.scaleTargetRef.name, 'ocr-worker');
  t.equal(scaled.spec.minReplicaCount, 0, 'scale to zero allowed');
  const triggers: Any[] = scaled.spec.triggers;
  for (const lane of lanes) {
    for (const what of ['depth', 'running']) {
      const trigger = triggers.find((tr) => tr.metadata.valueLocation === `lanes.${lane}.${what}`);
      t.ok(trigger, `lane ${lane} ${what} has a trigger`);
      t.equal(trigger?.type, 'metrics-api');
      t.match(
        trigger?.metadata.url,
        /^http:\/\/ocr-api\.ocr\.svc\.cluster\.local(:80)?\/v1\/lanes\/metrics$/,
      );
      t.equal(trigger?.authenticationRef.name, 'ocr-metrics-api');
    }
  }
  const formulaNames = scaled.spec.advanced.scalingModifiers.formula.split(/\s*\+\s*/).sort();
  t.same(formulaNames, triggers.map((tr) => tr.name).sort(), 'the formula sums exactly the triggers');
  t.equal(
    scaled.spec.advanced.scalingModifiers.target,
    env(container(objects, 'ocr-worker'), 'OCR_CONCURRENCY'),
    'one pod per OCR_CONCURRENCY runs',
  );
  const behavior = scaled.spec.advanced.horizontalPodAutoscalerConfig.behavior;
  t.equal(behavior.scaleUp.stabilizationWindowSeconds, 0);
  t.ok(behavior.scaleDown.stabilizationWindowSeconds >= 300);
  t.notOk('replicas' in find<Any>(objects, 'Deployment', 'ocr-worker').spec, 'the autoscaler owns replicas');
  find(objects, 'TriggerAuthentication', 'ocr-metrics-api');
  // Regression (kedacore/keda#6066): KEDA 2.14–2.16 reject a fallback unless each trigger says AverageValue.
  t.ok(scaled.spec.fallback, 'has a fallback');
  for (const trigger of triggers)
    t.equal(trigger.metricType, 'AverageValue', `${trigger.name}: metricType AverageValue`);
});

/** Does a label selector (matchLabels + In/NotIn/Exists/DoesNotExist) select these labels? */
function selects(selector: Any, labels: Record<string, string>): boolean {
  const byLabel = Object.entries<string>(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpression = (selector.matchExpressions ?? []).every((e: Any) => {
    switch (e.operator) {
      case 'In':
        return e.values.includes(labels[e.key]);
      case 'NotIn':
        return !(e.key in labels) || !e.values.includes(labels[e.key]);
      case 'Exists':
        return e.key in labels;
      case 'DoesNotExist':
        return !(e.key in labels);
      default:
        throw new Error(`unknown operator ${e.operator}`);
    }
  });
  return byLabel && byExpression;
}

t.test(
  'keda-job-mode: one Job per queued run of the group, never deleted while busy, never counted twice',
  async (t) => {
    for (const [name, objects] of [
      ['base+keda-job-mode', renderWithComponents(['keda-job-mode'])],
      ['production', production],
    ] as const) {
      const job = find<Any>(objects, 'ScaledJob', 'ocr-worker-long');
      const pod = job.spec.jobTargetRef.template;
      const worker: Container = pod.spec.containers.find((c: Any) => c.name === 'worker');
      const maxRuns = Number(env(worker, 'OCR_MAX_RUNS'));
      t.ok(maxRuns >= 1, `${name}: job pods claim a bounded number of runs (${maxRuns})`);
      t.ok(Number(env(worker, 'OCR_EXIT_WHEN_IDLE_S')) > 0, `${name}: a pod with nothing to do goes away`);
      t.ok(Number(env(worker, 'OCR_CONCURRENCY')) <= maxRuns, `${name}: concurrency within the run quota`);
      t.same(job.spec.rollout, { strategy: 'gradual' }, `${name}: an update never deletes running Jobs`);
      t.equal(
        job.spec.scalingStrategy.strategy,
        'accurate',
        `${name}: the metric excludes runs already claimed`,
      );
      t.equal(job.spec.scalingStrategy.multipleScalersCalculation, 'sum', `${name}: lanes add up`);
      t.equal(pod.spec.restartPolicy, 'Never');
      t.equal(job.spec.jobTargetRef.backoffLimit, 0, `${name}: the queue, not Kubernetes, retries runs`);
      t.equal(pod.metadata.annotations['cluster-autoscaler.kubernetes.io/safe-to-evict'], 'false');
      t.ok(
        pod.spec.terminationGracePeriodSeconds > Number(env(worker, 'OCR_SHUTDOWN_GRACE_S')),
        `${name}: a drained node waits for the run`,
      );
      const lanes = env(worker, 'OCR_LANES')!.split(',');
      const triggers: Any[] = job.spec.triggers;
      t.same(
        triggers.map((tr) => tr.metadata.valueLocation).sort(),
        lanes.map((l) => `lanes.${l}.depth`).sort(),
        `${name}: one depth trigger per lane of the group, nothing else`,
      );
      for (const tr of triggers) {
        t.equal(tr.type, 'metrics-api');
        t.equal(Number(tr.metadata.targetValue), maxRuns, `${name}: one Job per OCR_MAX_RUNS queued runs`);
        t.match(tr.metadata.url, /^http:\/\/ocr-api\.ocr\.svc\.cluster\.local(:80)?\/v1\/lanes\/metrics$/);
        find(objects, 'TriggerAuthentication', tr.authenticationRef.name);
      }
      // A lane served by a Deployment group as well would be scaled by both autoscalers.
      for (const deployment of objects.filter(
        (o) => o.kind === 'Deployment' && o.metadata.name.startsWith('ocr-worker'),
      ) as Any[]) {
        const served = env(deployment.spec.template.spec.containers[0], 'OCR_LANES')!.split(',');
        t.same(
          served.filter((l) => lanes.includes(l)),
          [],
          `${name}: ${deployment.metadata.name} serves none of the job lanes`,
        );
      }
      const pdb = find<Any>(objects, 'PodDisruptionBudget', 'ocr-worker');
      t.notOk(
        selects(pdb.spec.selector, pod.metadata.labels),
        `${name}: the Deployment workers' budget leaves job pods alone`,
      );
      const deploymentPod = find<Any>(objects, 'Deployment', 'ocr-worker').spec.template.metadata.labels;
      t.ok(selects(pdb.spec.selector, deploymentPod), `${name}: and still covers the Deployment's pods`);
      const workerPolicy = objects.find(
        (o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'ocr-worker',
      ) as Any;
      if (workerPolicy)
        t.ok(
          selects(workerPolicy.spec.podSelector, pod.metadata.labels),
          `${name}: worker network policy applies`,
        );
    }
  },
);

t.test('hpa-external: autoscaling/v2 on an external metric, fast up and slow down', async (t) => {
  const objects = renderWithComponents(['hpa-external']);
  const hpa = find<Any>(objects, 'HorizontalPodAutoscaler', 'ocr-worker');
  t.equal(hpa.apiVersion, 'autoscaling/v2');
  t.equal(hpa.spec.metrics[0].type, 'External');
  t.same(
    hpa.spec.metrics[0].external.metric.selector.matchExpressions[0].values,
    env(container(objects, 'ocr-worker'), 'OCR_LANES')!.split(','),
  );
  t.equal(hpa.spec.behavior.scaleUp.stabilizationWindowSeconds, 0);
  t.ok(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds >= 300);
  t.notOk('replicas' in find<Any>(objects, 'Deployment', 'ocr-worker').spec);
});

t.test(
  'monitoring: scrape every process; alert on backlog age, stuck runs, no leader, API errors',
  async (t) => {
    const objects = renderWithComponents(['monitoring']);
    t.equal(find<Any>(objects, 'ServiceMonitor', 'ocr-api').spec.endpoints[0].port, 'http');
    find(objects, 'PodMonitor', 'ocr-worker');
    find(objects, 'PodMonitor', 'ocr-sweeper');
    const rules: Any[] = find<Any>(objects, 'PrometheusRule', 'ocr-alerts').spec.groups.flatMap(
      (g: Any) => g.rules,
    );
    const expr = (alert: string) => rules.find((r) => r.alert === alert)?.expr ?? '';
    t.match(expr('OcrLaneBacklogAging'), /ocr_lane_oldest_wait_seconds/);
    t.match(expr('OcrStuckRunsHigh'), /rate\(ocr_sweeper_stuck_runs_total/);
    t.match(expr('OcrNoSweeperLeader'), /ocr_sweeper_leader\) or vector\(0\)/);
    t.match(expr('OcrApiErrorRatioHigh'), /ocr_http_requests_total\{status=~"5\.\."\}/);
    // Regression: sweeper-rules.yaml sat in no kustomization although docs/sweeper.md said it was deployed.
    const sweeperRules: Any[] = find<Any>(
      objects,
      'PrometheusRule',
      'ocr-sweeper-alerts',
    ).spec.groups.flatMap((g: Any) => g.rules);
    t.same(sweeperRules.map((r) => r.alert).sort(), [
      'OcrRunsQuarantined',
      'OcrSweeperRecoverySlow',
      'OcrSweeperSplitBrain',
      'OcrSweeperTicksFailing',
    ]);
    const listed = readdirSync(join(K8S_ROOT, 'components/monitoring')).filter(
      (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
    );
    const resources: string[] = parse(
      readFileSync(join(K8S_ROOT, 'components/monitoring/kustomization.yaml'), 'utf8'),
    ).resources;
    t.same(
      listed.filter((f) => !resources.includes(f)),
      [],
      'every manifest in components/monitoring is deployed',
    );
    for (const rule of [...rules, ...sweeperRules])
      t.ok(rule.labels?.severity && rule.annotations?.summary, `${rule.alert} has a severity and a summary`);
    const deployment = find<Any>(objects, 'Deployment', 'ocr-api');
    t.notOk(deployment.metadata.labels.release, 'monitoring labels stay on monitoring objects');
  },
);

t.test('network-policies: default deny; workers reach the API but not the database', async (t) => {
  const policies = renderWithComponents(['network-policies']).filter(
    (o) => o.kind === 'NetworkPolicy',
  ) as Any[];
  const deny = policies.find((p) => p.metadata.name === 'default-deny-all');
  t.same(deny.spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  const selects = (p: Any, app: string) =>
    p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === app ||
    p.spec.podSelector.matchExpressions?.some((e: Any) => e.operator === 'In' && e.values.includes(app)) ||
    Object.keys(p.spec.podSelector).length === 0;
  const egressPorts = (app: string) =>
    policies
      .filter((p) => selects(p, app))
      .flatMap((p) =>
        (p.spec.egress ?? []).flatMap((rule: Any) => (rule.ports ?? []).map((port: Any) => port.port)),
      );
  t.notOk(
    egressPorts('ocr-worker').some((port: number) => port === 5432 || port === 25060),
    'workers cannot reach PostgreSQL',
  );
  t.ok(egressPorts('ocr-worker').includes(8080), 'workers reach the API');
  for (const app of ['ocr-api', 'ocr-sweeper', 'ocr-migrate'])
    t.ok(egressPorts(app).includes(25060), `${app} reaches a managed database`);
  for (const app of ['ocr-api', 'ocr-worker', 'ocr-sweeper', 'ocr-migrate'])
    t.ok(egressPorts(app).includes(53), `${app} resolves names`);
});

t.test(
  'docker-in-docker: privileged engine as a native sidecar on a socket, the worker stays unprivileged',
  async (t) => {
    const objects = renderWithComponents(['docker-in-docker']);
    const spec = find<Any>(objects, 'Deployment', 'ocr-worker').spec.template.spec;
    const dind = spec.initContainers.find((c: Any) => c.name === 'dind');
    t.equal(dind.restartPolicy, 'Always', 'native sidecar: outlives the draining worker');
    t.equal(dind.securityContext.privileged, true);
    t.notOk(
      (dind.args as string[]).some((a) => a.includes('tcp://')),
      'no TCP listener',
    );
    const worker = spec.containers.find((c: Any) => c.name === 'worker');
    t.equal(env(worker, 'DOCKER_HOST'), 'unix:///var/run/dind/docker.sock');
    t.equal(env(worker, 'OCR_DOCKER_STEPS'), 'true', 'this group declares docker steps');
    const general = find<Any>(renderWithComponents([]), 'Deployment', 'ocr-worker').spec.template.spec;
    t.equal(
      env(
        general.containers.find((c: Any) => c.name === 'worker'),
        'OCR_DOCKER_STEPS',
      ),
      undefined,
      'the general worker does not (docker steps fail there with docker_not_enabled)',
    );
    t.equal(worker.securityContext.allowPrivilegeEscalation, false);
    const ns = find<Any>(objects, 'Namespace', 'ocr');
    t.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
    t.equal(ns.metadata.labels['pod-security.kubernetes.io/warn'], 'restricted', 'still warns at restricted');
    t.equal(
      find<Any>(renderWithComponents([]), 'Namespace', 'ocr').metadata.labels[
        'pod-security.kubernetes.io/enforce'
      ],
      'restricted',
      'base enforces restricted',
    );
  },
);
