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
    const out = execFileSync('/bin/sh', ['-c', `printf '%s|%s' ${shellQuote(value)} "$#"`, 'sh'], { encoding: 'utf8' });
    t.equal(out, `${value}|0`, JSON.stringify(value));
  }
  t.equal(renderShellScript('echo {{params.a}}-{{ params.b }}', { a: "it's", b: 2 }), `echo 'it'\\''s'-'2'`);
});

t.test('text, URLs and JSON', async (t) => {
  t.equal(renderText('v={{params.x}}', { x: NASTY }), `v=${NASTY}`);
  t.equal(renderUrl('https://h.example/a/{{params.p}}?q={{params.q}}', { p: '../x/y', q: 'a&b=c#d' }), 'https://h.example/a/..%2Fx%2Fy?q=a%26b%3Dc%23d');
  t.same(renderJson({ n: '{{params.n}}', s: 'n={{params.n}}', list: ['{{params.o}}'], keep: 5 }, { n: 3, o: { deep: true } }), {
    n: 3,
    s: 'n=3',
    list: [{ deep: true }],
    keep: 5,
  });
});

t.test('missing params and NUL bytes are errors, not empty strings', async (t) => {
  t.throws(() => renderText('{{params.nope}}', {}), { code: 'param_missing' });
  t.throws(() => renderShellScript('rm -rf /{{params.dir}}', {}), { code: 'param_missing' });
  t.throws(() => paramEnv({ a: 'x\0y' }), { code: 'param_invalid' });
});

t.test('container argv: plain text, except the script of a shell invocation, which is quoted', async (t) => {
  const params = { x: NASTY };
  t.same(renderContainerCommand(['echo', '{{params.x}}', '--flag={{params.x}}'], params), ['echo', NASTY, `--flag=${NASTY}`]);
  t.same(renderContainerCommand(['sh', '-c', 'echo {{params.x}}', 'name', '{{params.x}}'], params), ['sh', '-c', `echo ${shellQuote(NASTY)}`, 'name', NASTY]);
  t.same(renderContainerCommand(['/usr/bin/env', 'bash', '-euc', 'echo {{params.x}}'], params), ['/usr/bin/env', 'bash', '-euc', `echo ${shellQuote(NASTY)}`]);
  t.same(renderContainerCommand(['echo {{params.x}}'], params, ['/bin/sh', '-c']), [`echo ${shellQuote(NASTY)}`], 'a shell entrypoint makes the first element a script');
});
