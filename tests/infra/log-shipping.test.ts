// infra/k8s/log-shipping: a Fluent Bit DaemonSet, in its own (privileged) namespace, that tails exactly the
// ocr namespace's containers and ships pino's JSON fields to OpenSearch.
import { join } from 'node:path';
import t from 'tap';
import { find, render, K8S_ROOT } from './kustomize.js';
import { allWorkloadProblems } from './rules.js';
import { schemaProblem } from './schemas.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

t.test('log shipping renders, validates strictly, and reads only what it ships', async (t) => {
  const objects = render(join(K8S_ROOT, 'log-shipping'));
  t.same(
    (await Promise.all(objects.map(schemaProblem))).filter(Boolean),
    [],
    'valid, unknown fields included',
  );
  t.same(
    allWorkloadProblems(objects, new Set(['fluent-bit'])),
    [],
    'probed and sized (root is the documented exception)',
  );
  const namespaced = objects.filter(
    (o) => !['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind),
  );
  t.same(
    [...new Set(namespaced.map((o) => o.metadata.namespace))],
    ['logging'],
    'nothing lands in the restricted ocr namespace',
  );
  t.equal(
    find<Any>(objects, 'Namespace', 'logging').metadata.labels['pod-security.kubernetes.io/enforce'],
    'privileged',
  );

  const production = render(join(K8S_ROOT, 'overlays/doks-production'));
  const ocrNamespace = production.find((o) => o.kind === 'Deployment')!.metadata.namespace;
  const config = objects.find((o) => o.kind === 'ConfigMap') as Any;
  const conf: string = config.data['fluent-bit.conf'];
  t.match(
    conf,
    new RegExp(`Path\\s+/var/log/containers/\\*_${ocrNamespace}_\\*\\.log`),
    `tails the ${ocrNamespace} namespace`,
  );
  t.match(conf, /Merge_Log\s+On/, "pino's JSON becomes fields");
  t.match(conf, /Name\s+opensearch[\s\S]*tls\s+On/, 'ships over TLS');
  t.match(config.data['parsers.conf'], /Name\s+pino\s+Format\s+json/);
  const ds = find<Any>(objects, 'DaemonSet', 'fluent-bit').spec.template.spec;
  const container = ds.containers[0];
  t.same(container.securityContext.capabilities.drop, ['ALL']);
  t.equal(container.securityContext.allowPrivilegeEscalation, false);
  t.ok(ds.volumes.find((v: Any) => v.name === 'varlog').hostPath, 'reads the node logs');
  t.ok(container.volumeMounts.find((m: Any) => m.name === 'varlog').readOnly, 'read-only');
  const keys = container.env.map((e: Any) => e.valueFrom.secretKeyRef.key);
  for (const variable of conf.matchAll(/\$\{(\w+)\}/g))
    t.ok(
      container.env.some((e: Any) => e.name === variable[1]),
      `${variable[1]} is set`,
    );
  t.same(keys.sort(), ['host', 'password', 'port', 'user']);
  const role = find<Any>(objects, 'ClusterRole', 'ocr-fluent-bit');
  t.same(role.rules[0].verbs, ['get', 'list', 'watch'], 'read-only Kubernetes access');
});
