// The other delivery targets, checked statically: the Dockerfile, the App Platform spec, the systemd unit
// and the workflows. (tests/images builds the image on a locally made base and runs it; entrypoint.test.ts
// runs the image's CMD and HEALTHCHECK outside Docker, fast.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { REPO_ROOT } from './kustomize.js';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** Dockerfile instructions with line continuations joined, comments dropped. */
function instructions(text: string): { op: string; rest: string }[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), rest: rest.join(' ') };
    });
}

t.test(
  'Dockerfile: multi-stage on node:22 bookworm-slim, non-root, node HEALTHCHECK, exec-form entrypoint',
  async (t) => {
    const steps = instructions(read('Dockerfile'));
    const arg = steps.find((s) => s.op === 'ARG' && s.rest.startsWith('NODE_IMAGE='));
    t.equal(arg?.rest, 'NODE_IMAGE=node:22-bookworm-slim');
    const froms = steps.filter((s) => s.op === 'FROM');
    t.ok(froms.length >= 3, 'several stages');
    for (const from of froms)
      t.match(from.rest, /^\$\{NODE_IMAGE\} AS [a-z]+$/, 'every stage starts from the pinned Node image');

    const runtime = steps.slice(steps.findIndex((s) => s.op === 'FROM' && s.rest.endsWith('AS runtime')));
    const user = runtime.filter((s) => s.op === 'USER').at(-1);
    t.match(
      user?.rest,
      /^[1-9]\d*(:[1-9]\d*)?$/,
      'runs as a numeric non-root user (Kubernetes can verify runAsNonRoot)',
    );

    const health = runtime.find((s) => s.op === 'HEALTHCHECK');
    t.ok(health, 'has a HEALTHCHECK');
    t.match(health?.rest, /CMD \["node", /, 'the health check is node, in exec form');
    t.notMatch(health?.rest, /curl|wget/);

    const entrypoint = runtime.find((s) => s.op === 'ENTRYPOINT');
    const cmd = runtime.find((s) => s.op === 'CMD');
    t.same(JSON.parse(entrypoint!.rest), ['/usr/bin/tini', '--'], 'tini is PID 1, exec form');
    t.same(JSON.parse(cmd!.rest), ['node', 'packages/cli/bin/ocr.js', 'api'], 'node runs the CLI directly');
    t.ok(
      runtime.some((s) => s.op === 'RUN' && /apt-get install .*\btini\b/.test(s.rest)),
      'tini is installed',
    );

    const install = steps.find((s) => s.op === 'RUN' && /npm ci --omit=dev/.test(s.rest));
    t.ok(install, 'production dependencies come from the lockfile (npm ci --omit=dev)');
    t.match(install?.rest, /--ignore-scripts/, 'no install scripts in the image build');

    const healthcheck = read('infra/docker/healthcheck.mjs');
    t.match(healthcheck, /\/healthz/);
    t.match(healthcheck, /api: 8080.*worker: 9101.*sweeper: 9102/s, 'knows each process’s default port');
  },
);

t.test('.dockerignore keeps local state, dependencies and secrets out of the build context', async (t) => {
  const lines = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim());
  for (const entry of ['.git', '**/node_modules', '.ocr', '**/.env', 'tests', 'bench'])
    t.ok(lines.includes(entry), entry);
});

t.test(
  '.do/app.yaml: API and sweeper services, pre-deploy migration, direct database connection',
  async (t) => {
    const spec: Any = parse(read('.do/app.yaml'));
    const api = spec.services.find((s: Any) => s.name === 'api');
    t.equal(api.http_port, 8080);
    t.equal(api.health_check.http_path, '/readyz');
    const sweeper = spec.workers.find((w: Any) => w.name === 'sweeper');
    t.equal(sweeper.instance_count, 2, 'two sweepers (one leads)');
    const migrate = spec.jobs.find((j: Any) => j.name === 'migrate');
    t.equal(migrate.kind, 'PRE_DEPLOY');
    for (const component of [api, sweeper, migrate]) {
      t.match(
        component.run_command,
        /^node packages\/cli\/bin\/ocr\.js (api|sweeper|migrate)$/,
        `${component.name} runs node directly`,
      );
      t.equal(component.image.registry_type, 'DOCR');
    }
    t.notOk(JSON.stringify(spec).includes('"worker"'), 'workers stay on DOKS');
    t.equal(
      spec.envs.find((e: Any) => e.key === 'DATABASE_URL').value,
      '${db.DATABASE_URL}',
      'the direct connection, not a pool',
    );
    t.equal(
      api.envs.find((e: Any) => e.key === 'OCR_MIGRATE').value,
      'false',
      'only the pre-deploy job migrates',
    );
    for (const env of [...spec.envs, ...api.envs, ...sweeper.envs]) {
      if (/TOKEN|SECRET|ACCESS_KEY/.test(env.key))
        t.ok(
          env.type === 'SECRET' && env.value === undefined,
          `${env.key} is a secret without a committed value`,
        );
    }
  },
);

t.test('systemd unit: node directly, SIGTERM to the worker, stop timeout above the drain', async (t) => {
  const unit = read('infra/deploy/ocr-worker.service');
  const values = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!);
  t.match(values('ExecStart')[0], /^\/usr\/bin\/node packages\/cli\/bin\/ocr\.js worker$/);
  t.notMatch(unit, /^ExecStart=.*\bnpm\b/m);
  t.same(values('KillMode'), ['mixed'], 'SIGTERM reaches the worker alone; leftovers are killed as a group');
  const grace = Number(/OCR_SHUTDOWN_GRACE_S=(\d+)/.exec(values('Environment').join(' '))?.[1]);
  t.ok(
    Number(values('TimeoutStopSec')[0]) > grace + 5,
    'TimeoutStopSec exceeds the drain and forced-exit margin',
  );
  t.same(values('User'), ['ocr']);
  t.same(values('NoNewPrivileges'), ['true']);
});

t.test(
  'workflows: deploy builds, pushes and hands the digest to deploy.sh; spec-kit validates and fails',
  async (t) => {
    const deploy: Any = parse(read('.github/workflows/deploy.yml'));
    const steps: Any[] = deploy.jobs.deploy.steps;
    t.match(deploy.jobs.deploy.env.REGISTRY, /^registry\.digitalocean\.com\//, 'pushes to DOCR');
    t.match(
      steps.find((s) => s.name === 'Build and push')?.with.tags,
      /\$\{\{ env\.REGISTRY \}\}\/\$\{\{ env\.IMAGE_NAME \}\}:\$\{\{ env\.SHA \}\}/,
    );
    t.match(
      steps.at(-1).run,
      /infra\/k8s\/deploy\.sh .*@\$\{\{ steps\.build\.outputs\.digest \}\}/,
      'pinned by digest',
    );
    t.ok(deploy.jobs.preview.if.includes('pull_request'), 'PRs get a preview, not a deploy');
    t.equal(
      deploy.concurrency['cancel-in-progress'],
      "${{ github.event_name == 'pull_request' }}",
      'a production deploy is never cancelled halfway',
    );

    const specKit: Any = parse(read('.github/workflows/spec-kit.yml'));
    const specSteps: Any[] = specKit.jobs.validate.steps;
    t.match(
      specSteps.map((s) => s.run ?? '').join('\n'),
      /node packages\/cli\/bin\/ocr\.js spec validate spec\/ops-control-room --json/,
    );
    t.ok(
      specSteps.some(
        (s) =>
          s.uses?.startsWith('actions/github-script') && /createComment|updateComment/.test(s.with?.script),
      ),
      'posts the report on the PR',
    );
    const fail = specSteps.at(-1);
    t.match(fail.if, /exit_code != '0'/);
    t.match(fail.run, /exit 1/);
  },
);
