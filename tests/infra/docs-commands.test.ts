// The day-two walkthroughs of docs/deployment.md and docs/upgrade.md — first deploy, certificate renewal,
// rollout, rollback across a migration, backup and restore — contain only commands that the workflows or the
// tests run: each documented command must match, word for word (placeholders aside), one from the deploy
// workflow's steps, from `infra/k8s/deploy.sh --plan` (run here), or from the restore drill's command list.
// One-time provisioning of the cloud account (creating the database, registry, cluster; steps 1–5, 7, 9)
// is outside these walkthroughs and not checked.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { DRILL } from '../helpers/restore-drill.js';
import { REPO_ROOT } from './kustomize.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

/** `## ` sections (title → body) of a markdown file. */
function sections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of markdown.split(/^## /m).slice(1))
    out.set(part.slice(0, part.indexOf('\n')).trim(), part);
  return out;
}

/** The command lines of a text's ```sh blocks: continuations joined, comments and blank lines dropped. */
function commands(markdown: string): string[] {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) =>
    m[1]!
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .map((line) => line.replace(/\s+#\s.*$/, '').trim())
      .filter((line) => line && !line.startsWith('#')),
  );
}

/** Words of a command; a `<placeholder>` or a shell/Actions expression matches any word. */
const words = (command: string) => command.trim().split(/\s+/);
const wild = (word: string) => /<[^>]+>|\$\{|\$[A-Z_]+|^"\$/.test(word);
function sameCommand(documented: string, run: string): boolean {
  const a = words(documented);
  const b = words(run);
  return a.length === b.length && a.every((w, i) => w === b[i] || wild(w) || wild(b[i]!));
}

/** Every command the workflows, the deploy script (in plan mode) and the restore drill run. */
function runCommands(): string[] {
  const out: string[] = [];
  const deploy: Any = parse(read('.github/workflows/deploy.yml'));
  for (const job of Object.values<Any>(deploy.jobs)) {
    for (const step of job.steps ?? [])
      if (step.run)
        out.push(
          ...String(step.run)
            .replace(/\\\n\s*/g, ' ')
            .split('\n')
            .map((l) => l.trim()),
        );
  }
  const dir = mkdtempSync(join(tmpdir(), 'ocr-docs-'));
  try {
    cpSync(join(REPO_ROOT, 'infra/k8s'), join(dir, 'k8s'), { recursive: true });
    const lb = join(dir, 'k8s/overlays/doks-production/api-load-balancer.yaml');
    writeFileSync(
      lb,
      readFileSync(lb, 'utf8').replace('REPLACE_WITH_DO_CERTIFICATE_NAME', 'ocr-example-com'),
    );
    const image = 'registry.digitalocean.com/ops-control-room/ocr@sha256:' + 'c'.repeat(64);
    const plan = spawnSync('bash', ['infra/k8s/deploy.sh', '--plan', image], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, OVERLAY: join(dir, 'k8s/overlays/doks-production'), OUT: join(dir, 'out') },
    });
    if (plan.status !== 0) throw new Error(plan.stderr);
    out.push(`infra/k8s/deploy.sh ${image}`, `infra/k8s/deploy.sh --plan ${image}`);
    out.push(...plan.stdout.split('\n').filter((l) => l.startsWith('kubectl ')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const argv of Object.values(DRILL)) out.push(['node', 'packages/cli/bin/ocr.js', ...argv].join(' '));
  return out.filter(Boolean);
}

const WALKTHROUGHS: [string, string[]][] = [
  [
    'docs/deployment.md',
    ['6. Overlay settings and first deployment', 'Certificate renewal', 'Backups and restore'],
  ],
  ['docs/upgrade.md', ['Order (a rollout)', 'Rollbacks and the schema (a rollback across a migration)']],
];

t.test('every command of the day-two walkthroughs is one a workflow or a test runs', async (t) => {
  const run = runCommands();
  let checked = 0;
  for (const [file, titles] of WALKTHROUGHS) {
    const found = sections(read(file));
    for (const title of titles) {
      const body = found.get(title);
      t.ok(body, `${file} has the section "${title}"`);
      const documented = commands(body ?? '');
      t.ok(documented.length > 0, `${file} "${title}" shows its commands`);
      for (const command of documented) {
        checked++;
        t.ok(
          run.some((r) => sameCommand(command, r)),
          `${file} "${title}": ${command}`,
        );
      }
    }
  }
  t.ok(checked >= 8, `${checked} commands checked`);
});

t.test('the matcher bites: a command no workflow or test runs is reported', async (t) => {
  const run = runCommands();
  for (const made_up of [
    'kubectl apply --server-side -f /tmp/ocr.yaml',
    'infra/k8s/deploy.sh --force registry.digitalocean.com/ops-control-room/ocr:1',
    'node packages/cli/bin/ocr.js backup restore --from s3://ocr-backups/daily/',
    'kubectl -n ocr rollout undo deployment/ocr-api',
  ]) {
    t.notOk(
      run.some((r) => sameCommand(made_up, r)),
      made_up,
    );
  }
});

t.test("the renewal check's certificate-name extraction works on the rendered overlay", async (t) => {
  const deploy: Any = parse(read('.github/workflows/deploy.yml'));
  const step = deploy.jobs.deploy.steps.find((s: Any) => s.name === 'Certificate by name exists');
  const extract = String(step.run).split('\n')[0]!;
  t.match(extract, /^name=\$\(kubectl kustomize "\$OVERLAY"/);
  const result = spawnSync('bash', ['-c', `set -euo pipefail; ${extract}; echo "$name"`], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, OVERLAY: 'infra/k8s/overlays/doks-production' },
  });
  t.equal(result.status, 0, result.stderr);
  t.equal(result.stdout.trim(), 'REPLACE_WITH_DO_CERTIFICATE_NAME', 'the name the load balancer is given');
});
