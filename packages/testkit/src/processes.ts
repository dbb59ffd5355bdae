import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TestLike } from './database.js';

const OCR = fileURLToPath(new URL('../../cli/bin/ocr.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A JSON log line of a child process. */
export type LogLine = Record<string, unknown> & { msg?: string; runId?: string };

/** A child process whose JSON log lines (stdout) are kept for assertions; killed at teardown. */
export interface LoggedProcess {
  child: ChildProcess;
  logs: LogLine[];
  /** Resolve with the first log line (past or future) matching `match`; rejects early if the process exits. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<number | null>;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
}

/**
 * Spawn `node <args>` from the repository root with `env` on top of the test's environment. Teardown
 * sends SIGCONT first (a test may have stopped it) and then SIGKILL, and waits for the exit.
 */
export function spawnLogged(t: TestLike, args: string[], env: Record<string, string>): LoggedProcess {
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, OCR_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    logs.push(line);
    for (const waiter of waiters) {
      if (!waiter.match(line)) continue;
      waiters.delete(waiter);
      waiter.resolve(line);
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (process.env.OCR_TEST_LOG_LEVEL) process.stderr.write(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    return exited;
  });
  return {
    child,
    logs,
    exited,
    stderr: () => stderr,
    waitForLog(match, timeoutMs = 20_000) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const settle = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        const waiter = {
          match,
          resolve: (line: LogLine) => {
            settle();
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          settle();
          reject(new Error(`timed out waiting for a log line; stderr: ${stderr.slice(-2000)}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then((code) => {
          if (!waiters.has(waiter)) return;
          settle();
          reject(new Error(`process exited (${code}) before the log line; stderr: ${stderr.slice(-2000)}`));
        });
      });
    },
  };
}

/** A real `ocr <command>` process (the binary operators run). */
export function spawnOcr(
  t: TestLike,
  command: string,
  env: Record<string, string>,
  args: string[] = [],
): LoggedProcess {
  return spawnLogged(t, [OCR, command, ...args], env);
}

/** Poll `check` until it returns a value: for state another process changes, where no signal reaches us. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
