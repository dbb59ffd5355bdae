import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OCR = fileURLToPath(new URL('../packages/cli/bin/ocr.js', import.meta.url));

/** One `ocr <command>` process of the cluster; restartable under the same name and environment. */
export class Member {
  child: ChildProcess | undefined;
  /** Killed for good (teardown): a restart the nemesis scheduled earlier must not bring it back. */
  private retired = false;
  private log: WriteStream;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly env: Record<string, string>,
    logDir: string,
  ) {
    this.log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /**
   * Start the process unless it is running or retired. A nemesis restart fires 1–3 s after its kill and may
   * come after healing started the process again: a second child would replace the first in `child`, and
   * the first would never be killed (a worker was seen still running an hour after its suite).
   */
  start(): void {
    if (this.retired || this.pid !== undefined) return;
    const child = spawn(process.execPath, [OCR, this.command], {
      env: { ...process.env, OCR_LOG_LEVEL: 'warn', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(this.log, { end: false });
    child.stderr!.pipe(this.log, { end: false });
    this.child = child;
  }

  /** Resolves once the process has exited (at once when it is not running). */
  exited(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => child.once('exit', () => resolve()));
  }

  signal(signal: NodeJS.Signals): boolean {
    const pid = this.pid;
    if (!pid) return false;
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  async kill(): Promise<void> {
    this.retired = true;
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await this.exited();
  }
}

/** Wait until `check` holds, polling (state in other processes). */
export async function until(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 200,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
}
