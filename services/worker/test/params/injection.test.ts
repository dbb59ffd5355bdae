/**
 * No param value can ever become shell syntax: a param like `$(touch /tmp/pwned); "'` reaches shell and
 * docker steps as data in every form a template can use — environment variable, `{{params.x}}` in a shell
 * script, in a container's `sh -c` script, as a plain argv element, and behind a shell ENTRYPOINT — and the
 * file it tries to create never appears.
 */
import { existsSync, rmSync } from 'node:fs';
import t from 'tap';
import { createDockerExecutor } from '../../src/executors/docker.js';
import { shellExecutor } from '../../src/executors/shell.js';
import { ensureShellEntrypointImage, TEST_IMAGE, TEST_IMAGE_SH_ENTRYPOINT } from '../fixtures/docker-image.js';
import { createTestStepContext } from '../fixtures/step-context.js';

const PWNED = '/tmp/pwned';
const NASTY = `$(touch ${PWNED}); "'`;
// More ways out of a quoted word: backticks, a closing quote then a command, a newline then a command.
const MORE = [`\`touch ${PWNED}\``, `'; touch ${PWNED}; '`, `x\ntouch ${PWNED}`, `$(touch ${PWNED})'"\\`];

const docker = await ensureShellEntrypointImage();
const dockerExecutor = createDockerExecutor({ docker });
/** Inside the container: print the value both ways, then say whether the file appeared. */
const CHECK = `printf '%s\\n' {{params.x}}; printf '%s\\n' "$OCR_PARAM_X"; if [ -e ${PWNED} ]; then echo PWNED; else echo clean; fi`;

t.beforeEach(() => rmSync(PWNED, { force: true }));
t.afterEach(() => rmSync(PWNED, { force: true }));

for (const value of [NASTY, ...MORE]) {
  t.test(`shell step: ${JSON.stringify(value)} as env and as a template placeholder stays data`, async (t) => {
    for (const shell of ['sh', 'bash'] as const) {
      const { ctx, lines } = createTestStepContext(t, { params: { x: value } });
      const result = await shellExecutor.run({ name: 's', kind: 'shell', shell, script: `echo {{params.x}}; echo "$OCR_PARAM_X"; echo "{{params.x}}"` }, ctx);
      t.equal(result.status, 'success', shell);
      t.notOk(existsSync(PWNED), `${shell}: ${PWNED} was never created`);
      const printed = lines().join('\n');
      t.ok(printed.startsWith(value), `${shell}: the template form printed the value verbatim`);
      t.ok(printed.includes(`\n${value}\n`), `${shell}: the env form printed the value verbatim`);
    }
  });

  t.test(`docker step: ${JSON.stringify(value)} in a sh -c script, in env, and as argv stays data`, async (t) => {
    const { ctx, lines } = createTestStepContext(t, { params: { x: value } });
    const result = await dockerExecutor.run({ name: 'd', kind: 'docker', image: TEST_IMAGE, command: ['sh', '-c', CHECK] }, ctx);
    t.equal(result.status, 'success');
    const out = lines();
    t.equal(out.at(-1), 'clean', 'the file never appeared inside the container');
    t.equal(out.slice(0, -1).join('\n'), `${value}\n${value}`, 'printed verbatim both ways');
    t.notOk(existsSync(PWNED), 'nor on the host');

    const argv = createTestStepContext(t, { params: { x: value } });
    const echoed = await dockerExecutor.run({ name: 'd', kind: 'docker', image: TEST_IMAGE, command: ['echo', '{{params.x}}'] }, argv.ctx);
    t.equal(echoed.status, 'success');
    t.equal(argv.lines().join('\n'), value, 'an argv element is passed as is, with no shell in between');

    const entry = createTestStepContext(t, { params: { x: value } });
    const viaEntrypoint = await dockerExecutor.run({ name: 'd', kind: 'docker', image: TEST_IMAGE_SH_ENTRYPOINT, command: [CHECK] }, entry.ctx);
    t.equal(viaEntrypoint.status, 'success');
    t.equal(entry.lines().at(-1), 'clean', 'a shell ENTRYPOINT is recognised: its script is quoted too');
    t.equal(entry.lines().slice(0, -1).join('\n'), `${value}\n${value}`);
  });
}

t.test('the check itself can fail: a script that does run the command creates the file', async (t) => {
  const { ctx } = createTestStepContext(t, { params: { x: NASTY } });
  // Evaluate the command substitution only: the whole value ends in an open quote, a syntax error for eval.
  const result = await shellExecutor.run({ name: 's', kind: 'shell', script: 'eval "${OCR_PARAM_X%%;*}"' }, ctx);
  t.equal(result.status, 'success');
  t.ok(existsSync(PWNED), 'eval of the param (what a template must never do) does create it');
});
