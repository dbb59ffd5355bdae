import { execFileSync } from 'node:child_process';
import t from 'tap';
import {
  paramEnv,
  paramEnvName,
  renderContainerCommand,
  renderJson,
  renderShellScript,
  renderText,
  renderUrl,
  shellQuote,
} from '../../src/params/index.js';

const NASTY = `$(touch /tmp/pwned); "'\`id\`\\ ; echo 'x'`;

t.test('env names: upper-cased, non-alphanumerics to _', async (t) => {
  t.equal(paramEnvName('deploy-env.name'), 'OCR_PARAM_DEPLOY_ENV_NAME');
  t.same(paramEnv({ env: 'prod', n: 3, obj: { a: 1 }, none: null, gone: undefined }), {
    OCR_PARAM_ENV: 'prod',
    OCR_PARAM_N: '3',
    OCR_PARAM_OBJ: '{"a":1}',
    OCR_PARAM_NONE: '',
  });
});

t.test('shell quoting round-trips any text through a real /bin/sh as one word', async (t) => {
  for (const value of [NASTY, '', "'", "''", 'a b\tc\nd', '\\', '$HOME', '*', '-n', 'é✓']) {
    const out = execFileSync('/bin/sh', ['-c', `printf '%s|%s' ${shellQuote(value)} "$#"`, 'sh'], {
      encoding: 'utf8',
    });
    t.equal(out, `${value}|0`, JSON.stringify(value));
  }
  t.equal(
    renderShellScript('echo {{params.a}}-{{ params.b }}', { a: "it's", b: 2 }),
    'echo "${OCR_PARAM_A}"-"${OCR_PARAM_B}"',
  );
});

t.test('text, URLs and JSON', async (t) => {
  t.equal(renderText('v={{params.x}}', { x: NASTY }), `v=${NASTY}`);
  t.equal(
    renderUrl('https://h.example/a/{{params.p}}?q={{params.q}}', { p: '../x/y', q: 'a&b=c#d' }),
    'https://h.example/a/..%2Fx%2Fy?q=a%26b%3Dc%23d',
  );
  t.same(
    renderJson(
      { n: '{{params.n}}', s: 'n={{params.n}}', list: ['{{params.o}}'], keep: 5 },
      { n: 3, o: { deep: true } },
    ),
    {
      n: 3,
      s: 'n=3',
      list: [{ deep: true }],
      keep: 5,
    },
  );
});

t.test('missing params and NUL bytes are errors, not empty strings', async (t) => {
  t.throws(() => renderText('{{params.nope}}', {}), { code: 'param_missing' });
  t.throws(() => renderShellScript('rm -rf /{{params.dir}}', {}), { code: 'param_missing' });
  t.throws(() => paramEnv({ a: 'x\0y' }), { code: 'param_invalid' });
});

t.test('container argv: a whole-element placeholder is one argument; anything else is refused', async (t) => {
  const params = { x: NASTY };
  t.same(renderContainerCommand(['echo', '{{params.x}}', 'b'], params), ['echo', NASTY, 'b']);
  t.throws(
    () => renderContainerCommand(['echo', '--flag={{params.x}}'], params),
    { code: 'unsafe_placeholder' },
    'part of an element',
  );
  t.throws(
    () => renderContainerCommand(['sh', '-c', 'echo {{params.x}}'], params),
    { code: 'unsafe_placeholder' },
    'a shell script',
  );
  t.throws(
    () => renderContainerCommand(['sh', '-c', 'echo "$1"', 'sh', '{{params.x}}'], params),
    { code: 'unsafe_placeholder' },
    'an argument of a shell',
  );
  t.throws(() => renderContainerCommand(['/usr/bin/env', 'bash', '-euc', 'echo {{params.x}}'], params), {
    code: 'unsafe_placeholder',
  });
  t.throws(
    () => renderContainerCommand(['{{params.x}}'], params, ['/bin/sh', '-c']),
    { code: 'unsafe_placeholder' },
    'behind a shell entrypoint',
  );
  t.throws(
    () => renderContainerCommand(['{{params.x}}', 'arg'], params),
    { code: 'unsafe_placeholder' },
    'the program',
  );
  t.same(
    renderContainerCommand(['{{params.x}}'], params, ['/usr/bin/printf']),
    [NASTY],
    'an argument behind a non-shell entrypoint',
  );
});

/** Run a rendered script under a real shell with the params in the environment, as the executors do. */
function runScript(shell: string, template: string, params: Record<string, unknown>): string {
  return execFileSync(shell, ['-c', renderShellScript(template, params)], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...paramEnv(params) },
  });
}

t.test('shell placeholders stay one intact word in every quoting context, under sh and bash', async (t) => {
  const contexts: [string, (v: string) => string][] = [
    ["printf '%s|' {{params.x}}", (v) => `${v}|`],
    ['printf \'%s|\' "pre {{params.x}} post"', (v) => `pre ${v} post|`],
    ["printf '%s|' \"$(printf '%s' {{params.x}})\"", (v) => `${v.replace(/\n+$/, '')}|`],
    ['cat <<EOF\npre {{params.x}} post\nEOF', (v) => `pre ${v} post\n`],
    ['cat <<-EOF\n\tpre {{params.x}} post\n\tEOF', (v) => `pre ${v} post\n`],
    ["# don't be fooled by this quote\nprintf '%s|' {{params.x}}", (v) => `${v}|`],
    ['f() { printf \'%s|\' "$1"; }\nf {{params.x}}', (v) => `${v}|`],
    ["case {{params.x}} in x) printf 'x|';; *) printf '%s|' \"{{params.x}}\";; esac", (v) => `${v}|`],
  ];
  for (const value of [
    NASTY,
    'two words  *',
    "it's",
    'a\nb',
    '$HOME',
    '`id`',
    '"; touch /tmp/pwned; "',
    '\\"',
  ]) {
    for (const [template, expected] of contexts) {
      for (const shell of ['/bin/sh', '/bin/bash'])
        t.equal(
          runScript(shell, template, { x: value }),
          expected(value),
          `${shell} ${JSON.stringify(template)} ${JSON.stringify(value)}`,
        );
    }
  }
});

t.test('contexts where no rendering is safe are refused', async (t) => {
  t.equal(
    runScript('/bin/sh', 'echo $(( {{params.n}} + 1 ))', { n: 41 }),
    '42\n',
    'integers are fine in arithmetic',
  );
  t.throws(() => renderShellScript('echo $(( {{params.n}} + 1 ))', { n: 'a[$(touch /tmp/pwned)]' }), {
    code: 'unsafe_placeholder',
  });
  t.throws(() => renderShellScript("cat <<'EOF'\n{{params.x}}\nEOF", { x: 'v' }), {
    code: 'unsafe_placeholder',
  });
  t.throws(() => renderShellScript('echo {{params.a_b}}', { 'a-b': 1, a_b: 2 }), {
    code: 'param_name_collision',
  });
  for (const script of [
    "printf '%s' 'pre {{params.x}} post'",
    'x=`printf %s {{params.x}}`',
    'sh -c "echo {{params.x}}"',
    "echo $'{{params.x}}'",
    '[[ {{params.x}} == y ]]',
  ]) {
    t.throws(
      () => renderShellScript(script, { x: 'v' }),
      { code: 'unsafe_placeholder', message: /\{\{params\.x\}\}/ },
      script,
    );
  }
});
