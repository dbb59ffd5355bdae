/**
 * No param value can ever become code (issue 15). Every pattern a template author might write is driven
 * through the real API (save, validate, run creation) and a real worker (shell steps under sh and bash,
 * docker steps on the engine, MCP stdio servers): each is either refused at save with a 400 naming the step,
 * line and column and saying how to pass the value, refused at run creation naming the param, or runs with
 * the value printed as data. "Executed" means the run's events contain `PWN42`, which only evaluating the
 * payload `$(echo PWN$((6*7)))` (or one of its variants) can produce; the docker cases also check a file.
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { pino } from 'pino';
import t from 'tap';
import { ApiError } from '@ocr/client';
import { putTemplate } from '@ocr/db';
import { startStack, type Stack, type TestLike } from '@ocr/testkit';
import { createClientProtocol, loadWorkerConfig, Worker } from '@ocr/worker';
import { createExecutorRegistry } from '../../services/worker/src/executors/index.js';
import { ensureShellEntrypointImage, TEST_IMAGE } from '@ocr/testkit/docker-image';

const PAYLOAD = '$(echo PWN$((6*7)))';
const ARITH_PAYLOAD = 'a[$(echo PWN$((6*7)) >&2)]';
const AWK_PAYLOAD = '"; system("echo PWN" 6*7); print "';
const PY_PAYLOAD = `"); print("PWN" + str(6*7)); print("`;
const GIT_PAYLOAD = '--upload-pack=echo PWN$((6*7)) >&2; false';
const STRING = { type: 'object', properties: { x: { type: 'string' } }, required: ['x'] };
const INTEGER = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] };

type Step = Record<string, unknown>;
interface Refused {
  name: string;
  steps: Step[];
  schema?: Record<string, unknown>;
  /** The refusal's field, and a word the guidance must contain. */
  field: string;
  hint: RegExp;
}
interface Safe {
  name: string;
  steps: Step[];
  schema?: Record<string, unknown>;
  params: Record<string, unknown>;
  /** Lines the run must print (the value as data), in order; omitted when only "never executed" matters. */
  prints?: string[];
  /** The run's status (a step may fail safely, e.g. git with a bogus remote). */
  status?: string;
}

const sh = (script: string, shell: 'sh' | 'bash' = 'bash'): Step => ({
  name: 'go',
  kind: 'shell',
  shell,
  script,
});
const docker = (command: string[]): Step => ({ name: 'box', kind: 'docker', image: TEST_IMAGE, command });

// The patterns of the issue, then more: nested quoting, eval, pipelines into interpreters, assignments to
// code variables, argument injection, docker and MCP argv.
const REFUSED: Refused[] = [
  {
    name: 'sh-c-single',
    steps: [sh(`sh -c 'echo {{params.x}}'`)],
    field: 'steps[0].script',
    hint: /single quotes/,
  },
  {
    name: 'sh-c-double',
    steps: [sh(`sh -c "echo {{params.x}}"`)],
    field: 'steps[0].script',
    hint: /runs `sh`/,
  },
  {
    name: 'heredoc-to-sh',
    steps: [sh('sh <<EOF\necho {{params.x}}\nEOF')],
    field: 'steps[0].script',
    hint: /runs `sh`/,
  },
  {
    name: 'cond-gt',
    steps: [sh('[[ {{params.x}} -gt 3 ]] && echo big')],
    field: 'steps[0].script',
    hint: /arithmetic/,
  },
  { name: 'let', steps: [sh('let n={{params.x}}; echo $n')], field: 'steps[0].script', hint: /`let`/ },
  {
    name: 'array-index',
    steps: [sh('a=(1 2 3); echo ${a[{{params.x}}]}')],
    field: 'steps[0].script',
    hint: /arithmetic/,
  },
  {
    name: 'declare-i',
    steps: [sh('declare -i n={{params.x}}; echo $n')],
    field: 'steps[0].script',
    hint: /arithmetic/,
  },
  {
    name: 'substring',
    steps: [sh('s=abcdef; echo ${s:{{params.x}}}')],
    field: 'steps[0].script',
    hint: /arithmetic/,
  },
  {
    name: 'awk-program',
    steps: [sh(`awk 'BEGIN{print "{{params.x}}"}'`)],
    field: 'steps[0].script',
    hint: /awk, -v x=/,
  },
  {
    name: 'python-c',
    steps: [sh(`python3 -c 'print("{{params.x}}")'`)],
    field: 'steps[0].script',
    hint: /os\.environ/,
  },
  {
    name: 'docker-python-c',
    steps: [docker(['python3', '-c', "print('{{params.x}}')"])],
    field: 'steps[0].command[2]',
    hint: /whole element/,
  },
  {
    name: 'docker-sh-c',
    steps: [docker(['sh', '-c', 'echo {{params.x}}'])],
    field: 'steps[0].command[2]',
    hint: /whole element/,
  },
  {
    name: 'docker-sh-positional',
    steps: [docker(['sh', '-c', 'echo "$1"', 'sh', '{{params.x}}'])],
    field: 'steps[0].command[4]',
    hint: /runs `sh`/,
  },
  {
    name: 'docker-partial',
    steps: [docker(['echo', 'value={{params.x}}'])],
    field: 'steps[0].command[1]',
    hint: /whole element/,
  },
  {
    name: 'docker-program',
    steps: [docker(['{{params.x}}'])],
    field: 'steps[0].command[0]',
    hint: /program/,
  },
  {
    name: 'mcp-python-c',
    steps: [
      {
        name: 'tool',
        kind: 'mcp',
        server: { command: 'python3', args: ['-c', "print('{{params.x}}')"] },
        tool: 't',
      },
    ],
    field: 'steps[0].server.args[1]',
    hint: /whole element/,
  },
  {
    name: 'mcp-node-arg',
    steps: [
      {
        name: 'tool',
        kind: 'mcp',
        server: { command: 'node', args: ['server.js', '{{params.x}}'] },
        tool: 't',
      },
    ],
    field: 'steps[0].server.args[1]',
    hint: /runs `node`/,
  },
  { name: 'eval', steps: [sh('eval "echo {{params.x}}"')], field: 'steps[0].script', hint: /`eval`/ },
  {
    name: 'nested-quoting',
    steps: [sh('bash -c "$(echo "echo {{params.x}}")"')],
    field: 'steps[0].script',
    hint: /`bash`/,
  },
  { name: 'pipe-to-sh', steps: [sh('echo "{{params.x}}" | sh')], field: 'steps[0].script', hint: /`sh`/ },
  {
    name: 'heredoc-cat-pipe-bash',
    steps: [sh('cat <<EOF | bash\necho {{params.x}}\nEOF')],
    field: 'steps[0].script',
    hint: /`bash`/,
  },
  {
    name: 'single-quotes',
    steps: [sh(`echo '{{params.x}}'`)],
    field: 'steps[0].script',
    hint: /"\$OCR_PARAM_X"/,
  },
  { name: 'backticks', steps: [sh('echo `echo {{params.x}}`')], field: 'steps[0].script', hint: /backticks/ },
  { name: 'ansi-c-quotes', steps: [sh("echo $'{{params.x}}'")], field: 'steps[0].script', hint: /\$'…'/ },
  { name: 'ps4', steps: [sh('PS4={{params.x}}; set -x; true')], field: 'steps[0].script', hint: /PS4/ },
  {
    name: 'env-bash-env',
    steps: [{ ...sh('echo hi'), env: { BASH_ENV: '{{params.x}}' } }],
    field: 'steps[0].env.BASH_ENV',
    hint: /BASH_ENV/,
  },
  {
    name: 'arith-string',
    steps: [sh('echo $(( {{params.x}} + 1 ))', 'sh')],
    field: 'steps[0].script',
    hint: /"type": "integer"/,
  },
  { name: 'command-name', steps: [sh('{{params.x}} --version')], field: 'steps[0].script', hint: /program/ },
  {
    name: 'quoted-heredoc',
    steps: [sh("cat <<'EOF'\n{{params.x}}\nEOF")],
    field: 'steps[0].script',
    hint: /quoted here-document/,
  },
  {
    name: 'printf-v',
    steps: [sh('printf -v {{params.x}} %s 1')],
    field: 'steps[0].script',
    hint: /printf -v/,
  },
  {
    name: 'find-exec',
    steps: [sh('find . -exec {{params.x}} \\;')],
    field: 'steps[0].script',
    hint: /find -exec/,
  },
  { name: 'xargs', steps: [sh('echo {{params.x}} | xargs echo')], field: 'steps[0].script', hint: /`xargs`/ },
  {
    name: 'timeout-wrapper',
    steps: [sh('timeout 5 echo {{params.x}}')],
    field: 'steps[0].script',
    hint: /`timeout`/,
  },
  {
    name: 'substitution-names-command',
    steps: [sh('"$(echo {{params.x}})" --help')],
    field: 'steps[0].script',
    hint: /command substitution/,
  },
  {
    name: 'url-host',
    steps: [{ name: 'ping', kind: 'http', url: 'https://{{params.x}}/health' }],
    field: 'steps[0].url',
    hint: /host/,
  },
  {
    name: 'malformed',
    steps: [sh('echo {{params.my-env}}')],
    field: 'steps[0].script',
    hint: /not a valid placeholder/,
  },
];

const SAFE: Safe[] = [
  { name: 'echo-bare', steps: [sh('echo {{params.x}}', 'sh')], params: { x: PAYLOAD }, prints: [PAYLOAD] },
  {
    name: 'echo-bare-bash',
    steps: [sh('echo {{params.x}}')],
    params: { x: ARITH_PAYLOAD },
    prints: [ARITH_PAYLOAD],
  },
  {
    name: 'double-quoted',
    steps: [sh('echo "value: {{params.x}}!"')],
    params: { x: `${PAYLOAD}"; echo "${PAYLOAD}` },
    prints: [`value: ${PAYLOAD}"; echo "${PAYLOAD}!`],
  },
  {
    name: 'heredoc-cat',
    steps: [sh('cat <<EOF\nhello {{params.x}}\nEOF')],
    params: { x: `${PAYLOAD}\nEOF\necho ${PAYLOAD}` },
    prints: [`hello ${PAYLOAD}`, 'EOF', `echo ${PAYLOAD}`],
  },
  {
    name: 'substitution-nested-quotes',
    steps: [sh('v="$(printf "%s" "{{params.x}}")"; echo "[$v]"')],
    params: { x: PAYLOAD },
    prints: [`[${PAYLOAD}]`],
  },
  {
    name: 'awk-v',
    steps: [sh(`awk -v x="$OCR_PARAM_X" 'BEGIN { print x }'`)],
    params: { x: AWK_PAYLOAD },
    prints: [AWK_PAYLOAD],
  },
  {
    name: 'python-environ',
    steps: [sh(`python3 -c 'import os; print(os.environ["OCR_PARAM_X"])'`)],
    params: { x: PY_PAYLOAD },
    prints: [PY_PAYLOAD],
  },
  { name: 'sh-c-env', steps: [sh(`sh -c 'echo "$OCR_PARAM_X"'`)], params: { x: PAYLOAD }, prints: [PAYLOAD] },
  {
    name: 'arith-integer',
    steps: [sh('echo $(( {{params.n}} + 1 ))', 'sh')],
    schema: INTEGER,
    params: { n: 41 },
    prints: ['42'],
  },
  {
    name: 'cond-integer',
    steps: [sh('[[ {{params.n}} -gt 3 ]] && echo big')],
    schema: INTEGER,
    params: { n: 7 },
    prints: ['big'],
  },
  {
    name: 'case-and-for',
    steps: [
      sh(
        'case "{{params.x}}" in prod) echo p;; *) echo other;; esac; for v in {{params.x}} b; do echo "$v"; done',
      ),
    ],
    params: { x: PAYLOAD },
    prints: ['other', PAYLOAD, 'b'],
  },
  {
    name: 'redirect-and-parts',
    steps: [sh('mkdir -p out; echo ok > "out/{{params.x}}.txt"; ls out; echo --ns={{params.x}}')],
    params: { x: 'a$(echo PWN$((6*7)))b' },
    prints: ['a$(echo PWN$((6*7)))b.txt', '--ns=a$(echo PWN$((6*7)))b'],
  },
  {
    name: 'git-ls-remote',
    steps: [sh('git ls-remote {{params.x}} . 2>&1 || true')],
    params: { x: 'file:///nonexistent/$(echo PWN$((6*7)))' },
  },
  {
    name: 'leading-dash-allowed',
    steps: [sh('echo {{params.x}}')],
    schema: { type: 'object', properties: { x: { type: 'string', 'x-ocr-allow-leading-dash': true } } },
    params: { x: '-n$(echo PWN$((6*7)))' },
    prints: ['-n$(echo PWN$((6*7)))'],
  },
  {
    name: 'docker-argv',
    steps: [docker(['echo', '{{params.x}}'])],
    params: { x: `${PAYLOAD}; touch /tmp/pwned` },
    prints: [`${PAYLOAD}; touch /tmp/pwned`],
  },
  {
    name: 'docker-env',
    steps: [docker(['sh', '-c', 'echo "$OCR_PARAM_X"; [ -e /tmp/pwned ] && echo PWN42 || echo clean'])],
    params: { x: '$(touch /tmp/pwned)' },
    prints: ['$(touch /tmp/pwned)', 'clean'],
  },
];

async function startWorker(t: TestLike, stack: Stack): Promise<Worker> {
  const { token } = await stack.tokenFor('worker');
  const config = loadWorkerConfig({
    OCR_API_URL: stack.apiUrl,
    OCR_TOKEN: token,
    OCR_LANES: 'A',
    OCR_CONCURRENCY: '8',
    OCR_CLAIM_WAIT_MS: '1000',
    OCR_EVENT_FLUSH_MS: '50',
    OCR_KILL_GRACE_S: '0.5',
    OCR_WORKER_ID: `inj-${randomUUID().slice(0, 8)}`,
  });
  const docker = await ensureShellEntrypointImage();
  const worker = new Worker({
    api: createClientProtocol({ baseUrl: stack.apiUrl, token }),
    config,
    log: pino({ level: 'silent' }),
    executors: createExecutorRegistry({ docker: { docker } }),
  });
  worker.start();
  t.teardown(() => worker.drain(2000));
  return worker;
}

/** Follow the worker's finished runs from now on; `all(ids)` resolves once each of them has finished. */
function finishedRuns(worker: Worker): { all(ids: Iterable<string>): Promise<void> } {
  const done = new Set<string>();
  let wake: (() => void) | undefined;
  worker.on('run.finished', (id: string) => {
    done.add(id);
    wake?.();
  });
  return {
    async all(ids) {
      const wanted = [...ids];
      while (!wanted.every((id) => done.has(id))) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

async function logLines(stack: Stack, runId: string): Promise<string[]> {
  const { events } = await stack.client.runs.events(runId, { limit: 5000 });
  return events.filter((e) => e.type === 'log').map((e) => e.message);
}

async function allText(stack: Stack, runId: string): Promise<string> {
  const [{ events }, detail] = await Promise.all([
    stack.client.runs.events(runId, { limit: 5000 }),
    stack.client.runs.get(runId),
  ]);
  return JSON.stringify({ events, run: detail.run });
}

t.test(
  'unsafe placements are refused at save and by validate, naming step, line, column and the safe way',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    t.ok(REFUSED.length + SAFE.length >= 32, `${REFUSED.length} refused + ${SAFE.length} safe patterns`);
    for (const c of REFUSED) {
      const template = { name: `r-${c.name}`, params_schema: c.schema ?? STRING, steps: c.steps as never };
      const err = await stack.client.templates.create(template).catch((e: unknown) => e);
      t.type(err, ApiError, `${c.name}: refused`);
      const e = err as ApiError;
      t.equal(e.status, 400, `${c.name}: 400`);
      t.equal(e.code, 'validation_failed');
      const details = e.details as {
        field: string;
        step: string;
        line: number;
        column: number;
        reason: string;
        message: string;
      }[];
      const problem = details.find((d) => d.reason === 'unsafe_placeholder') ?? details[0]!;
      t.equal(problem.field, c.field, `${c.name}: the field is named`);
      t.equal(problem.step, c.steps[0]!.name, `${c.name}: the step is named`);
      t.ok(
        Number.isInteger(problem.line) &&
          problem.line >= 1 &&
          Number.isInteger(problem.column) &&
          problem.column >= 1,
        `${c.name}: line ${problem.line}, column ${problem.column}`,
      );
      t.match(
        e.message,
        new RegExp(`step "${c.steps[0]!.name}".*line ${problem.line}, column ${problem.column}`),
        `${c.name}: the message says where`,
      );
      t.match(problem.message, c.hint, `${c.name}: the message says why / how`);
      const validation = (await stack.client.templates.validate(template).catch((e: unknown) => e)) as {
        status?: number;
        code?: string;
        details?: unknown;
      };
      t.match(validation, { status: 400, code: 'validation_failed' }, `${c.name}: validate answers 400`);
      t.match(
        validation.details,
        [{ field: c.field, line: problem.line, column: problem.column }],
        `${c.name}: validate points at the same place`,
      );
      t.match(
        await stack.client.templates.get(template.name).catch((e: unknown) => e),
        { status: 404 },
        `${c.name}: nothing was saved`,
      );
    }
    // Line and column are exact: the placeholder on line 3 at column 14.
    const err = (await stack.client.templates
      .create({
        name: 'where',
        params_schema: STRING,
        steps: [sh("set -e\necho ok\necho 'value: {{params.x}}'")] as never,
      })
      .catch((e: unknown) => e)) as ApiError;
    t.match((err.details as unknown[])[0], { line: 3, column: 14 });
  },
);

t.test('safe placements run with the value as data, under the real worker; none executes', async (t) => {
  const stack = await startStack(t, { s3: false });
  const finished = finishedRuns(await startWorker(t, stack));
  const runs = new Map<string, Safe>();
  for (const c of SAFE) {
    await stack.client.templates.create({
      name: `s-${c.name}`,
      params_schema: c.schema ?? STRING,
      steps: c.steps as never,
    });
    const { run } = await stack.client.runs.create({ template: `s-${c.name}`, params: c.params });
    runs.set(run.id, c);
  }
  await finished.all(runs.keys());
  for (const [id, c] of runs) {
    t.notOk(
      (await allText(stack, id)).includes('PWN42'),
      `${c.name}: PWN42 appears nowhere in the run or its events (the payload never ran)`,
    );
    const lines = await logLines(stack, id);
    if (c.prints)
      t.same(
        lines.filter((l) => c.prints!.includes(l)),
        c.prints,
        `${c.name}: printed as data`,
      );
    const detail = await stack.client.runs.get(id);
    t.equal(
      detail.run.status,
      c.status ?? 'success',
      `${c.name}: ${detail.run.status}${detail.run.error ? ` (${detail.run.error.message})` : ''}`,
    );
  }
});

t.test('the demo templates in examples/ (what ocr dev seeds) all validate', async (t) => {
  const stack = await startStack(t, { s3: false });
  const dir = join(import.meta.dirname, '../../examples/templates');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
  t.ok(files.length >= 4);
  for (const file of files) {
    const validation = await stack.client.templates.validate(parse(await readFile(join(dir, file), 'utf8')));
    t.same(validation, { valid: true, problems: [] }, file);
  }
});

t.test(
  'argument injection: a value starting with "-" is refused at run creation where it would be an option',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    await stack.client.templates.create({
      name: 'ls-remote',
      params_schema: STRING,
      steps: [sh('git ls-remote {{params.x}} .')] as never,
    });
    await stack.client.templates.create({
      name: 'docker-arg',
      params_schema: STRING,
      steps: [docker(['ls', '{{params.x}}'])] as never,
    });
    await stack.client.templates.create({
      name: 'not-bare',
      params_schema: STRING,
      steps: [sh('echo "--name={{params.x}}"')] as never,
    });
    for (const template of ['ls-remote', 'docker-arg']) {
      for (const x of [GIT_PAYLOAD, '-rf', '--output=/etc/passwd']) {
        const err = (await stack.client.runs
          .create({ template, params: { x } })
          .catch((e: unknown) => e)) as ApiError;
        t.equal(err.status, 400, `${template} ${x}: 400`);
        t.match(
          err.details,
          [{ field: 'params.x', message: /must not start with "-"/ }],
          'the field is named',
        );
      }
    }
    const { run } = await stack.client.runs.create({ template: 'not-bare', params: { x: '-x' } });
    t.ok(run.id, 'a value that does not start an argument may start with "-"');
    const { runs } = await stack.client.runs.list({ limit: 50 });
    t.equal(runs.length, 1, 'nothing else was created');
    // String params are bounded by default.
    const long = (await stack.client.runs
      .create({ template: 'not-bare', params: { x: 'a'.repeat(4097) } })
      .catch((e: unknown) => e)) as ApiError;
    t.match(long, { status: 400, details: [{ field: 'params.x', message: /4096/ }] });
  },
);

t.test(
  'a template stored before these checks cannot run an unsafe placeholder: the worker refuses it too',
  async (t) => {
    const stack = await startStack(t, { s3: false });
    const finished = finishedRuns(await startWorker(t, stack));
    const steps = [
      [sh(`sh -c 'echo {{params.x}}'`)],
      [sh('[[ {{params.x}} -gt 3 ]] && echo big')],
      [docker(['sh', '-c', 'echo {{params.x}}'])],
      [
        {
          name: 'tool',
          kind: 'mcp',
          server: { command: 'sh', args: ['-c', 'echo {{params.x}}'] },
          tool: 't',
        },
      ],
    ];
    const ids = new Set<string>();
    for (const [i, s] of steps.entries()) {
      // Straight into the database, as an older API version would have stored it.
      await putTemplate(stack.db.db, {
        name: `legacy-${i}`,
        description: '',
        definition: { params_schema: STRING, default_lane: 'A', steps: s },
      });
      const { run } = await stack.client.runs.create({
        template: `legacy-${i}`,
        params: { x: i === 1 ? ARITH_PAYLOAD : PAYLOAD },
      });
      ids.add(run.id);
    }
    await finished.all(ids);
    for (const id of ids) {
      const detail = await stack.client.runs.get(id);
      t.match(
        detail.run,
        { status: 'error', error: { code: 'unsafe_placeholder' } },
        'the step fails before anything runs',
      );
      t.notOk(
        (await logLines(stack, id)).some((l) => l.includes('PWN42')),
        'nothing executed',
      );
    }
  },
);
