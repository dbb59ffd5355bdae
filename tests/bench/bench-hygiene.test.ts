// A bench that crashes or is interrupted leaves no process behind: the bench stack (API, worker, fleet shard,
// and a scratch Postgres when it starts one) is started in a child process of its own process group, which
// is then signalled or crashes; afterwards neither any pid it reported nor any member of its group may live.
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';

import { createTestDatabase } from '@ocr/testkit';

const HOLD = fileURLToPath(new URL('../../bench/lib/hold-stack.ts', import.meta.url));

/** State and process group of a pid, or undefined when it is gone (a zombie counts as gone: it runs nothing). */
async function procState(pid: number): Promise<{ state: string; pgid: number } | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return { state: fields[0]!, pgid: Number(fields[2]) };
}

/** Pids of live processes in process group `pgid`. */
async function groupMembers(pgid: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const members: number[] = [];
  for (const pid of pids) if ((await procState(pid))?.pgid === pgid) members.push(pid);
  return members;
}

async function survivors(pids: number[], pgid: number): Promise<number[]> {
  const alive: number[] = [];
  for (const pid of pids) if (await procState(pid)) alive.push(pid);
  return [...new Set([...alive, ...(await groupMembers(pgid))])];
}

async function holdAndEnd(
  t: Test,
  end: 'SIGINT' | 'SIGTERM' | 'throw',
  env: Record<string, string | undefined>,
): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLD], {
    // A process group of its own: what it leaves behind is found by group, not only by the pids it reports.
    detached: true,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const pgid = child.pid!;
  t.teardown(async () => {
    // Whatever the outcome, never leave the group running for the rest of the suite.
    for (const pid of await groupMembers(pgid)) process.kill(pid, 'SIGKILL');
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (text) => text.startsWith('{') && resolve(text));
    void exited.then(() => reject(new Error(`hold-stack exited before it was ready: ${stderr}`)));
  });
  const { pids } = JSON.parse(line) as { pids: number[] };
  // The API, the worker and the shard (and the scratch Postgres' postmaster), all running.
  t.ok(pids.length >= (env.DATABASE_URL ? 3 : 4), `children reported: ${pids.join(', ')}`);
  for (const pid of pids) t.ok(await procState(pid), `child ${pid} is running before the end`);

  child.kill(end === 'throw' ? 'SIGUSR2' : end);
  const { code } = await exited;
  t.equal(code, end === 'SIGINT' ? 130 : end === 'SIGTERM' ? 143 : 1, `exit code after ${end}`);
  // Processes take a moment to die after their signal (Postgres finishes its fast shutdown): poll.
  const deadline = Date.now() + 30_000;
  let left = await survivors(pids, pgid);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = await survivors(pids, pgid);
  }
  t.same(left, [], `no process left behind after ${end}`);
}

t.test('SIGTERM, SIGINT and a crash each end every process the bench started', async (t) => {
  const db = await createTestDatabase(t);
  for (const end of ['SIGTERM', 'SIGINT', 'throw'] as const)
    await t.test(end, (t) => holdAndEnd(t, end, { DATABASE_URL: db.url }));
});

t.test('the scratch Postgres of a bench without DATABASE_URL is stopped on SIGINT', (t) =>
  holdAndEnd(t, 'SIGINT', { DATABASE_URL: undefined }),
);
