// A fleet reconnecting at once (after an API restart or a deploy) must not lose connection attempts: the
// API asks for the largest accept queue the kernel allows, so connections made while its event loop is busy
// wait in that queue instead of being dropped (a dropped SYN costs the worker a retransmit of 1 s or more).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { startStack } from '@ocr/testkit';

// Opens N connections, says `start` first, and prints how many were established within 1.5 s.
const OPENER = `
const { connect } = require('node:net');
const [port, n] = process.argv.slice(1).map(Number);
let established = 0;
const sockets = [];
process.stdout.write('start\\n');
for (let i = 0; i < n; i++) {
  const s = connect(port, '127.0.0.1', () => established++);
  s.on('error', () => {});
  sockets.push(s);
}
setTimeout(() => {
  process.stdout.write(established + '\\n');
  for (const s of sockets) s.destroy();
}, 1500);
`;

t.test('connections made while the event loop is busy all wait in the accept queue', async (t) => {
  const somaxconn = Number((await readFile('/proc/sys/net/core/somaxconn', 'utf8')).trim());
  // Node's default queue is 511: more than that shows the difference; the kernel's cap bounds the test.
  const n = Math.min(1500, somaxconn - 16);
  t.ok(n > 600, `net.core.somaxconn (${somaxconn}) leaves room for more than Node's default 511`);
  const stack = await startStack(t, { s3: false });
  const port = Number(new URL(stack.apiUrl).port);

  const opener = spawn(process.execPath, ['-e', OPENER, String(port), String(n)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const started = new Promise<void>((resolve) =>
    opener.stdout.on('data', (chunk: Buffer) => {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      if (lines[0] === 'start') resolve();
    }),
  );
  await started;
  // The API (in this process) accepts nothing for 2.5 s: only the kernel's queue holds the connections.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2_500);
  await once(opener, 'exit');
  t.equal(Number(lines[1]), n, `all ${n} connections were established while the API was busy`);
});
