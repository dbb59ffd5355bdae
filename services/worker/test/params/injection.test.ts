/**
 * No param value can ever become shell syntax: a param like `$(touch /tmp/pwned); "'` reaches shell and
 * docker steps as data in every form a template can use — environment variable, `{{params.x}}` in a shell
 * script, a whole argv element — and the file it tries to create never appears; a placeholder spliced into a
 * container's `sh -c` script (or behind a shell ENTRYPOINT) is refused before anything runs.
 */
import { existsSync, rmSync } from 'node:fs';
import t from 'tap';
import { createDockerExecutor } from '../../src/executors/docker.js';
import { shellExecutor } from '../../src/executors/shell.js';
import { ensureShellEntrypointImage, TEST_IMAGE, TEST_IMAGE_SH_ENTRYPOINT } from '@ocr/testkit/docker-image';
import { createTestStepContext } from '../fixtures/step-context.js';

const PWNED = '/tmp/pwned';
const NASTY = `$(touch ${PWNED}); "'`;
// More ways out of a quoted word: backticks, a closing quote then a command, a newline then a command.
const MORE = [`\`touch ${PWNED}\``, `'; touch ${PWNED}; '`, `x\ntouch ${PWNED}`, `$(touch ${PWNED})'"\\`];

const docker = await ensureShellEntrypointImage();
const dockerExecutor = createDockerExecutor({ docker });
/** Inside the container: print the value from the environment, then say whether the file appeared. */
const CHECK_ENV = `printf '%s\\n' "$OCR_PARAM_X"; if [ -e ${PWNED} ]; then echo PWNED; else echo clean; fi`;
/** The same with a placeholder spliced into the script: refused. */
const CHECK = `printf '%s\\n' {{params.x}}; ${CHECK_ENV}`;

t.beforeEach(() => rmSync(PWNED, { force: true }));
t.afterEach(() => rmSync(PWNED, { force: true }));

for (const value of [NASTY, ...MORE]) {
  t.test(
    `shell step: ${JSON.stringify(value)} as env and as a template placeholder stays data`,
    async (t) => {
      for (const shell of ['sh', 'bash'] as const) {
        const { ctx, lines } = createTestStepContext(t, { params: { x: value } });
        const result = await shellExecutor.run(
          {
            name: 's',
            kind: 'shell',
            shell,
            script: `echo {{params.x}}; echo "$OCR_PARAM_X"; echo "{{params.x}}"`,
          },
          ctx,
        );
        t.equal(result.status, 'success', shell);
        t.notOk(existsSync(PWNED), `${shell}: ${PWNED} was never created`);
        const printed = lines().join('\n');
        t.ok(printed.startsWith(value), `${shell}: the template form printed the value verbatim`);
        t.ok(printed.includes(`\n${value}\n`), `${shell}: the env form printed the value verbatim`);
      }
    },
  );

  t.test(
    `docker step: ${JSON.stringify(value)} as env and as a whole argv element stays data; spliced into a sh -c script it is refused`,
    async (t) => {
      const { ctx, lines } = createTestStepContext(t, { params: { x: value } });
      const result = await dockerExecutor.run(
        { name: 'd', kind: 'docker', image: TEST_IMAGE, command: ['sh', '-c', CHECK_ENV] },
        ctx,
      );
      t.equal(result.status, 'success');
      const out = lines();
      t.equal(out.at(-1), 'clean', 'the file never appeared inside the container');
      t.equal(out.slice(0, -1).join('\n'), value, 'printed verbatim from the environment');
      t.notOk(existsSync(PWNED), 'nor on the host');

      const argv = createTestStepContext(t, { params: { x: value } });
      const echoed = await dockerExecutor.run(
        { name: 'd', kind: 'docker', image: TEST_IMAGE, command: ['echo', '{{params.x}}'] },
        argv.ctx,
      );
      t.equal(echoed.status, 'success');
      t.equal(argv.lines().join('\n'), value, 'an argv element is passed as is, with no shell in between');

      // A placeholder inside a shell's script, in the command or behind a shell ENTRYPOINT, is refused before the container exists.
      for (const [image, command] of [
        [TEST_IMAGE, ['sh', '-c', CHECK]],
        [TEST_IMAGE_SH_ENTRYPOINT, [CHECK]],
        [TEST_IMAGE_SH_ENTRYPOINT, ['{{params.x}}']],
      ] as const) {
        const refused = createTestStepContext(t, { params: { x: value } });
        const outcome = await dockerExecutor.run(
          { name: 'd', kind: 'docker', image, command: [...command] },
          refused.ctx,
        );
        t.match(
          outcome,
          { status: 'failed', code: 'unsafe_placeholder' },
          `${image} ${JSON.stringify(command)}: refused`,
        );
        t.same(refused.lines(), [], 'nothing ran');
        t.notOk(existsSync(PWNED));
      }
    },
  );
}

t.test('the check itself can fail: a script that does run the command creates the file', async (t) => {
  const { ctx } = createTestStepContext(t, { params: { x: NASTY } });
  // Evaluate the command substitution only: the whole value ends in an open quote, a syntax error for eval.
  const result = await shellExecutor.run(
    { name: 's', kind: 'shell', script: 'eval "${OCR_PARAM_X%%;*}"' },
    ctx,
  );
  t.equal(result.status, 'success');
  t.ok(existsSync(PWNED), 'eval of the param (what a template must never do) does create it');
});
