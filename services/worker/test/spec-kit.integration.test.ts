/**
 * Both Spec Kit templates through the real API, a real worker, Postgres and S3: generation stores four
 * markdown artifacts, a zip and spec_docs versions that the validator accepts; broken kits (a missing file,
 * a PRD without acceptance criteria, tasks without ids) fail the run with the right problems.
 */
import { execFileSync } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { startStack, type Stack } from '@ocr/testkit';
import {
  unzipSpecKit,
  validateSpecKit,
  writeSpecKitDir,
  generateSpecKit,
  SPEC_FILES,
  type SpecKitFiles,
  type ValidationReport,
} from '@ocr/spec-kit';
import type { Worker } from '../src/index.js';
import { startTestWorker } from './helpers.js';

const TEMPLATES = resolve(import.meta.dirname, '../../../examples/templates');

/** Resolves when the worker finishes a run, whether it finished before or after the call. */
function endings(worker: Worker): (runId: string) => Promise<string> {
  const ended = new Map<string, string>();
  const waiting = new Map<string, (end: string) => void>();
  worker.on('run.finished', (id: string, end: string) => {
    ended.set(id, end);
    waiting.get(id)?.(end);
  });
  return (runId) =>
    ended.has(runId) ? Promise.resolve(ended.get(runId)!) : new Promise((r) => waiting.set(runId, r));
}

async function seed(stack: Stack): Promise<void> {
  for (const file of ['generate_spec_kit.yaml', 'validate_spec_kit.yaml']) {
    await stack.client.templates.create(parse(await readFile(join(TEMPLATES, file), 'utf8')));
  }
}

async function content(stack: Stack, artifactId: string): Promise<Uint8Array> {
  const response = await stack.client.artifacts.content(artifactId);
  return new Uint8Array(await response.arrayBuffer());
}

const input = {
  name: 'Acme Deploys',
  description: 'Ship safely, roll back fast.',
  goals: ['Deploy with one click', 'Roll back in a minute', 'See deploy history'],
  users: ['release engineer', 'on-call operator'],
  constraints: ['Runs on Kubernetes'],
  milestones: ['MVP', 'GA'],
};

t.test('generate then validate, through the API and a worker', async (t) => {
  const stack = await startStack(t);
  await seed(stack);
  const scratch = await mkdtemp(join(tmpdir(), 'ocr-spec-kit-it-'));
  // The kits of this test live under `scratch`: the operator's root for absolute kit paths.
  const worker = await startTestWorker(t, stack, {
    OCR_SPEC_KIT_GIT_SCHEMES: 'https,file',
    OCR_SPEC_KIT_ROOT: scratch,
  });
  const ended = endings(worker);
  t.teardown(() => rm(scratch, { recursive: true, force: true }));

  /** Start a run and wait for it; returns the run, its artifacts and its events. */
  const runToEnd = async (template: string, params: Record<string, unknown>) => {
    const { run } = await stack.client.runs.create({ template, params });
    await ended(run.id);
    const detail = await stack.client.runs.get(run.id);
    const { artifacts } = await stack.client.runs.artifacts(run.id);
    const { events } = await stack.client.runs.events(run.id, { limit: 1000 });
    return { run: detail.run, artifacts, events };
  };
  const reportOf = async (artifacts: { id: string; name: string }[]): Promise<ValidationReport> =>
    JSON.parse(
      new TextDecoder().decode(
        await content(stack, artifacts.find((a) => a.name === 'spec-kit-report.json')!.id),
      ),
    );

  const generated = await runToEnd('generate_spec_kit', input);
  let zipId = '';

  t.test('generation: four markdown artifacts and a zip, all downloadable, that validate', async (t) => {
    t.equal(generated.run.status, 'success', JSON.stringify(generated.run.error));
    const docs = generated.artifacts.filter((a) => a.kind === 'markdown');
    t.same(docs.map((a) => a.name).sort(), SPEC_FILES.map((f) => `acme-deploys/${f}`).sort());
    const zip = generated.artifacts.find((a) => a.kind === 'zip');
    t.match(zip, { name: 'acme-deploys.zip', status: 'ready' });
    t.ok(generated.artifacts.every((a) => a.status === 'ready'));
    zipId = zip!.id;

    const files: SpecKitFiles = {};
    for (const doc of docs)
      files[doc.name.split('/')[1]!] = new TextDecoder().decode(await content(stack, doc.id));
    t.same(files, generateSpecKit(input), 'the documents are the generator output');
    t.same(validateSpecKit(files).problems, [], 'the validator accepts them');
    t.same(
      unzipSpecKit(await content(stack, zip!.id)),
      files,
      'the zip (from S3) holds the same four documents',
    );
    t.match(
      generated.events.find((e) => e.type === 'spec-kit.stored'),
      { message: /spec_docs of Acme Deploys: constitution\.md v1, prd\.md v1, plan\.md v1, tasks\.md v1/ },
    );
  });

  t.test(
    'spec_docs: one row per document, linked to the run and its artifact, content readable',
    async (t) => {
      const { spec_docs } = await stack.client.specDocs.list('Acme Deploys');
      t.same(spec_docs.map((d) => [d.name, d.version]).sort(), SPEC_FILES.map((f) => [f, 1]).sort());
      for (const doc of spec_docs) {
        t.equal(doc.run_id, generated.run.id);
        const artifact = generated.artifacts.find((a) => a.id === doc.artifact_id);
        t.equal(artifact?.name, `acme-deploys/${doc.name}`);
        const full = await stack.client.specDocs.get(doc.id);
        t.equal(full.content, generateSpecKit(input)[doc.name as (typeof SPEC_FILES)[number]]);
      }
    },
  );

  t.test('a second generation makes version 2 of each document', async (t) => {
    const again = await runToEnd('generate_spec_kit', {
      ...input,
      goals: [...input.goals, 'Alert on a failed deploy'],
    });
    t.equal(again.run.status, 'success');
    const { spec_docs } = await stack.client.specDocs.list('Acme Deploys');
    t.same(
      spec_docs.map((d) => d.version),
      [2, 2, 2, 2],
    );
    t.match(
      (await stack.client.specDocs.get(spec_docs.find((d) => d.name === 'prd.md')!.id)).content,
      /### R4: Alert on a failed deploy/,
    );
  });

  t.test(
    'validate the zip artifact of the generate run: success, report and summary artifacts',
    async (t) => {
      const validated = await runToEnd('validate_spec_kit', { artifact_id: zipId });
      t.equal(validated.run.status, 'success', JSON.stringify(validated.run.error));
      const report = await reportOf(validated.artifacts);
      t.match(report, {
        valid: true,
        source: `artifact ${zipId}`,
        problems: [],
        summary: { requirements: 3, traced_requirements: 3 },
      });
      const summary = validated.artifacts.find((a) => a.name === 'spec-kit-report.md')!;
      t.match(new TextDecoder().decode(await content(stack, summary.id)), /^# Spec Kit validation: ✅ valid/);
    },
  );

  t.test("validate a project's spec_docs (the latest versions)", async (t) => {
    const validated = await runToEnd('validate_spec_kit', { project: 'Acme Deploys' });
    t.equal(validated.run.status, 'success', JSON.stringify(validated.run.error));
    t.match(await reportOf(validated.artifacts), { valid: true, summary: { requirements: 4 } });
  });

  const good = generateSpecKit(input);
  const noCriteria = good['prd.md'].replace(/\*\*Acceptance criteria:\*\*\n(- .*\n)+/g, '');
  /** The 1-based line of a requirement's heading. */
  const headingLine = (prd: string, id: string) =>
    prd.split('\n').findIndex((l) => l.startsWith(`### ${id}:`)) + 1;
  const broken: {
    name: string;
    files: SpecKitFiles;
    problems: { code: string; file: string; line: number | null }[];
  }[] = [
    {
      name: 'a missing file',
      files: Object.fromEntries(Object.entries(good).filter(([f]) => f !== 'plan.md')),
      problems: [{ code: 'missing_file', file: 'plan.md', line: null }],
    },
    {
      name: 'a PRD without acceptance criteria',
      files: { ...good, 'prd.md': noCriteria },
      problems: ['R1', 'R2', 'R3'].map((id) => ({
        code: 'missing_acceptance_criteria',
        file: 'prd.md',
        line: headingLine(noCriteria, id),
      })),
    },
    {
      name: 'tasks without ids',
      files: { ...good, 'tasks.md': good['tasks.md'].replace(/ T\d+\.\d+ /g, ' ') },
      problems: [
        ...good['tasks.md']
          .split('\n')
          .flatMap((l, i) =>
            l.startsWith('- [ ] T') ? [{ code: 'task_without_id', file: 'tasks.md', line: i + 1 }] : [],
          ),
        ...['R1', 'R2', 'R3'].map((id) => ({
          code: 'untraced_requirement',
          file: 'prd.md',
          line: headingLine(good['prd.md'], id),
        })),
      ],
    },
  ];
  for (const kit of broken) {
    t.test(`a kit with ${kit.name} is rejected with the right problems`, async (t) => {
      const dir = join(scratch, kit.name.replace(/\W+/g, '-'));
      await writeSpecKitDir(dir, kit.files);
      const validated = await runToEnd('validate_spec_kit', { path: dir });
      t.equal(validated.run.status, 'error');
      t.match(validated.run.error, { code: 'spec_kit_invalid' });
      const report = await reportOf(validated.artifacts);
      t.equal(report.valid, false);
      t.same(
        report.problems.map((p) => ({ code: p.code, file: p.file, line: p.line })),
        kit.problems,
      );
      const events = validated.events.filter((e) => e.type === 'spec-kit.problem');
      t.equal(events.length, kit.problems.length, 'one error event per problem');
      t.ok(events.every((e) => e.level === 'error'));
      t.match(
        validated.artifacts.map((a) => a.name).sort(),
        ['spec-kit-report.json', 'spec-kit-report.md'],
        'reports are stored for a failed run too',
      );
    });
  }

  t.test('validate from a git URL (shallow clone of a local repository)', async (t) => {
    const repo = join(scratch, 'repo');
    await writeSpecKitDir(join(repo, 'spec', 'acme'), good);
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, stdio: 'pipe' });
    git('init', '-q', '-b', 'main');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'add', '.');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '-m', 'kit');
    const validated = await runToEnd('validate_spec_kit', {
      git_url: `file://${repo}`,
      ref: 'main',
      subdir: 'spec/acme',
    });
    t.equal(validated.run.status, 'success', JSON.stringify(validated.run.error));
    t.match(await reportOf(validated.artifacts), { valid: true, source: `file://${repo}@main:spec/acme` });
  });
});

t.test('the worker can read only the inputs a run names, and only under its lease', async (t) => {
  const stack = await startStack(t);
  await seed(stack);
  const { client: workerClient } = await stack.tokenFor('worker');
  // An artifact of another run, which the validate run below does not name.
  const { run: other } = await stack.client.runs.create({ template: 'generate_spec_kit', params: input });
  const {
    runs: [claimedOther],
  } = await workerClient.worker.claim({ worker_id: 'w1', lanes: ['A'] });
  const { artifact } = await workerClient.worker.createArtifact(other.id, {
    lease_token: claimedOther!.lease_token,
    name: 'x.md',
    kind: 'markdown',
    content_type: 'text/markdown',
    size: 1,
    sha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881',
    content: 'x',
  });
  await workerClient.worker.complete(other.id, claimedOther!.lease_token, { status: 'success' });

  const { run } = await stack.client.runs.create({
    template: 'validate_spec_kit',
    params: { project: 'Acme Deploys' },
  });
  const {
    runs: [claimed],
  } = await workerClient.worker.claim({ worker_id: 'w2', lanes: ['A'] });
  t.equal(claimed!.run.id, run.id);
  await t.rejects(workerClient.worker.readArtifact(run.id, claimed!.lease_token, artifact.id), {
    code: 'forbidden',
    message: /artifact_id: .* is not an input of run/,
  });
  await t.rejects(workerClient.worker.readSpecDocs(run.id, claimed!.lease_token, 'Other Project'), {
    code: 'forbidden',
  });
  t.same(
    (await workerClient.worker.readSpecDocs(run.id, claimed!.lease_token, 'Acme Deploys')).spec_docs,
    [],
    'the named project is readable',
  );
  await t.rejects(
    workerClient.worker.storeSpecDocs(run.id, {
      lease_token: claimed!.lease_token,
      project: 'P',
      docs: [{ name: 'prd.md', content: '# P', artifact_id: artifact.id }],
    }),
    { code: 'validation_failed', message: /docs\.0\.artifact_id: not an artifact of run/ },
  );
  const stale = '00000000-0000-4000-8000-00000000dead';
  await t.rejects(workerClient.worker.readSpecDocs(run.id, stale, 'Acme Deploys'), { code: 'lease_lost' });
  await t.rejects(
    workerClient.worker.storeSpecDocs(run.id, {
      lease_token: stale,
      project: 'P',
      docs: [{ name: 'prd.md', content: '# P' }],
    }),
    { code: 'lease_lost' },
  );
  t.same((await stack.client.specDocs.list('P')).spec_docs, [], 'a refused store writes nothing');
  await workerClient.worker.complete(run.id, claimed!.lease_token, { status: 'success' });
  await t.rejects(
    workerClient.worker.storeSpecDocs(run.id, {
      lease_token: claimed!.lease_token,
      project: 'P',
      docs: [{ name: 'prd.md', content: '# P' }],
    }),
    { code: 'lease_lost' },
    'a finished run stores nothing',
  );
});

t.test(
  'a kit path with ".." is a 400 at save, validate and run creation; outside the root the run fails',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await seed(stack);
    const traversals = [
      '..',
      '../..',
      '../../etc',
      'a/../../b',
      'kit/..',
      '..\\x',
      './kits/../../../root',
      '/tmp/../etc',
    ];
    for (const path of traversals) {
      const created = await stack.client.runs
        .create({ template: 'validate_spec_kit', params: { path } })
        .catch((e: unknown) => e);
      t.match(
        created,
        { status: 400, code: 'validation_failed', details: [{ field: 'params.path' }] },
        `run with path ${JSON.stringify(path)} refused`,
      );
      // A param that feeds input.path through a placeholder is judged the same way.
      const template = {
        name: 'kit-at',
        params_schema: { type: 'object', properties: { dir: { type: 'string' } } },
        steps: [{ name: 'v', kind: 'spec-kit.validate' as const, input: { path: 'kits/{{params.dir}}' } }],
      };
      await stack.client.templates.put(template);
      t.match(
        await stack.client.runs
          .create({ template: 'kit-at', params: { dir: path } })
          .catch((e: unknown) => e),
        { status: 400, details: [{ field: 'params.dir' }] },
        `placeholder path ${JSON.stringify(path)} refused`,
      );
      // A literal path in the template is refused when the template is saved, and by validate.
      const literal = {
        name: 'kit-literal',
        steps: [{ name: 'v', kind: 'spec-kit.validate' as const, input: { path } }],
      };
      t.match(
        await stack.client.templates.create(literal).catch((e: unknown) => e),
        {
          status: 400,
          code: 'validation_failed',
          details: [{ field: 'steps[0].input.path', reason: 'path_refused' }],
        },
        `literal ${JSON.stringify(path)} refused at save`,
      );
      t.match(await stack.client.templates.validate(literal).catch((e: unknown) => e), {
        status: 400,
        details: [{ field: 'steps[0].input.path' }],
      });
    }
    t.equal((await stack.client.runs.list({})).runs.length, 0, 'no run was created');
    // What the API cannot judge (an absolute path outside OCR_SPEC_KIT_ROOT) fails the run at the worker.
    const worker = await startTestWorker(t, stack, {
      OCR_SPEC_KIT_ROOT: await mkdtemp(join(tmpdir(), 'ocr-kit-root-')),
    });
    const ended = endings(worker);
    const { run } = await stack.client.runs.create({
      template: 'validate_spec_kit',
      params: { path: '/etc' },
    });
    await ended(run.id);
    t.match((await stack.client.runs.get(run.id)).run, {
      status: 'error',
      error: { code: 'path_refused', message: /outside OCR_SPEC_KIT_ROOT/ },
    });
  },
);

t.test('the Spec Kit worker routes are in the OpenAPI document, with their schemas', async (t) => {
  const stack = await startStack(t, { s3: false });
  const doc = (await (await fetch(`${stack.apiUrl}/docs/json`)).json()) as {
    paths: Record<string, Record<string, { requestBody?: unknown; tags?: string[] }>>;
  };
  for (const path of [
    '/v1/runs/{id}/spec-docs',
    '/v1/runs/{id}/inputs/spec-docs',
    '/v1/runs/{id}/inputs/artifact',
  ]) {
    t.ok(doc.paths[path]?.post?.requestBody, `${path}: POST with a request body`);
    t.same(doc.paths[path]?.post?.tags, ['worker protocol']);
  }
});
