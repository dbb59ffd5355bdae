// Every overlay, and base with each component, renders with kustomize, validates against the Kubernetes
// (and KEDA / Prometheus operator) schemas offline, and passes the cross-field workload rules.
import t from 'tap';
import { render, renderWithComponents, K8S_ROOT, type K8sObject } from './kustomize.js';
import { schemaProblem } from './schemas.js';
import { allWorkloadProblems } from './rules.js';
import { join } from 'node:path';

interface Target {
  name: string;
  objects: () => K8sObject[];
  privileged?: Set<string>;
}

const targets: Target[] = [
  { name: 'overlays/local', objects: () => render(join(K8S_ROOT, 'overlays/local')) },
  { name: 'overlays/doks-production', objects: () => render(join(K8S_ROOT, 'overlays/doks-production')) },
  ...['keda-autoscaling', 'keda-job-mode', 'hpa-external', 'monitoring', 'network-policies', 'backup'].map(
    (c) => ({
      name: `base + components/${c}`,
      objects: () => renderWithComponents([c]),
    }),
  ),
  {
    name: 'base + components/docker-in-docker',
    objects: () => renderWithComponents(['docker-in-docker']),
    privileged: new Set(['dind']),
  },
];

for (const target of targets) {
  t.test(target.name, async (t) => {
    const objects = target.objects();
    t.ok(objects.length > 10, `renders objects (${objects.length})`);

    const schemaProblems = (await Promise.all(objects.map(schemaProblem))).filter(Boolean);
    t.same(schemaProblems, [], 'every object validates against its schema');

    t.same(
      allWorkloadProblems(objects, target.privileged),
      [],
      'every workload passes the cross-field rules',
    );

    const names = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    t.same(
      names.filter((n, i) => names.indexOf(n) !== i),
      [],
      'no object is rendered twice',
    );
    for (const o of objects) {
      t.equal(
        o.metadata.labels?.['app.kubernetes.io/part-of'],
        'ops-control-room',
        `${o.kind}/${o.metadata.name} carries the part-of label`,
      );
    }
  });
}
