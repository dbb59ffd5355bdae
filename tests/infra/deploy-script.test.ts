// infra/k8s/deploy.sh, run for real in its plan mode (it renders with kubectl kustomize, pins the image and
// splits the manifests exactly as a deploy does, then prints the kubectl commands instead of running them:
// there is no cluster here). The first deploy, CI, a rollout and a rollback all go through it.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { TestLike } from '@ocr/testkit';
import { find, parseObjects, REPO_ROOT } from './kustomize.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const IMAGE = `registry.digitalocean.com/ops-control-room/ocr@sha256:${'ab'.repeat(32)}`;

/** A copy of infra/k8s with the operator's settings filled in (the committed overlay holds placeholders). */
function configuredInfra(t: TestLike): string {
  const dir = mkdtempSync(join(tmpdir(), 'ocr-deploy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(REPO_ROOT, 'infra/k8s'), join(dir, 'k8s'), { recursive: true });
  const lb = join(dir, 'k8s/overlays/doks-production/api-load-balancer.yaml');
  writeFileSync(lb, readFileSync(lb, 'utf8').replace('REPLACE_WITH_DO_CERTIFICATE_NAME', 'ocr-example-com'));
  return dir;
}

function plan(infra: string, out: string, image = IMAGE) {
  return spawnSync('bash', [join(REPO_ROOT, 'infra/k8s/deploy.sh'), '--plan', image], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, OVERLAY: join(infra, 'k8s/overlays/doks-production'), OUT: out },
  });
}

t.test('plan: migrate first, then the Deployments, all server-side with one field manager', async (t) => {
  const infra = configuredInfra(t);
  const out = join(infra, 'out');
  const result = plan(infra, out);
  t.equal(result.status, 0, result.stderr);
  const commands = result.stdout.split('\n').filter((l) => l.startsWith('kubectl '));
  t.same(commands, [
    'kubectl -n ocr delete job ocr-migrate --ignore-not-found --wait=true',
    `kubectl apply --server-side --field-manager=ocr-deploy -f ${out}/migrate.yaml`,
    'kubectl -n ocr wait --for=condition=complete job/ocr-migrate --timeout=10m',
    'kubectl -n ocr logs job/ocr-migrate --tail=50',
    `kubectl apply --server-side --field-manager=ocr-deploy -f ${out}/deployments.yaml`,
    'kubectl -n ocr rollout status deployment/ocr-api --timeout=10m',
    'kubectl -n ocr rollout status deployment/ocr-sweeper --timeout=10m',
    'kubectl -n ocr rollout status deployment/ocr-worker --timeout=10m',
  ]);

  const migrate = parseObjects(readFileSync(join(out, 'migrate.yaml'), 'utf8')) as Any[];
  const deployments = parseObjects(readFileSync(join(out, 'deployments.yaml'), 'utf8')) as Any[];
  const rendered = parseObjects(readFileSync(join(out, 'rendered.yaml'), 'utf8'));
  t.notOk(
    migrate.some((o) => o.kind === 'Deployment'),
    'the first apply rolls no pod',
  );
  t.same(
    deployments.map((o) => o.kind),
    ['Deployment', 'Deployment', 'Deployment'],
  );
  t.equal(migrate.length + deployments.length, rendered.length, 'every object is applied exactly once');
  t.equal(
    find<Any>(migrate, 'Job', 'ocr-migrate').spec.template.spec.containers[0].image,
    IMAGE,
    'the Job runs the new image',
  );
  for (const d of deployments)
    for (const c of d.spec.template.spec.containers)
      t.equal(c.image, IMAGE, `${d.metadata.name} pinned by digest`);
  t.match(
    find<Any>(migrate, 'Service', 'ocr-api').metadata.annotations[
      'service.beta.kubernetes.io/do-loadbalancer-certificate-name'
    ],
    'ocr-example-com',
  );
});

t.test(
  'plan: refuses placeholders (the committed certificate name) and an image it cannot pin',
  async (t) => {
    const committed = spawnSync('bash', ['infra/k8s/deploy.sh', '--plan', IMAGE], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, OUT: mkdtempSync(join(tmpdir(), 'ocr-deploy-out-')) },
    });
    t.equal(committed.status, 1);
    t.match(committed.stderr, /placeholders left/);
    t.notMatch(committed.stdout, /^kubectl apply/m, 'nothing applied');

    const infra = configuredInfra(t);
    const kustomization = join(infra, 'k8s/overlays/doks-production/kustomization.yaml');
    writeFileSync(
      kustomization,
      readFileSync(kustomization, 'utf8').replace('newTag: unpinned', 'newTag: "0.1.0"'),
    );
    const unpinnable = plan(infra, join(infra, 'out'));
    t.equal(unpinnable.status, 1);
    t.match(unpinnable.stderr, /no image was pinned/);
  },
);

t.test('the migration Job is re-creatable: deleted before each apply and after it finishes', async (t) => {
  const infra = configuredInfra(t);
  const out = join(infra, 'out');
  t.equal(plan(infra, out).status, 0);
  const job = find<Any>(parseObjects(readFileSync(join(out, 'migrate.yaml'), 'utf8')), 'Job', 'ocr-migrate');
  t.ok(
    job.spec.ttlSecondsAfterFinished > 0 && job.spec.ttlSecondsAfterFinished <= 3600,
    'gone within the hour, so a plain re-apply creates it afresh',
  );
});
