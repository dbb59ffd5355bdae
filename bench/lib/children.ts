import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';

/**
 * Every process the bench starts (API processes, workers, fleet shards, subscriber shards, peers, the scratch
 * Postgres) is registered here, so that a bench that crashes or is interrupted leaves none behind: left over,
 * they keep a 2-core machine busy and skew every figure measured after them.
 */
const live = new Set<ChildProcess>();
/** Data directories of scratch Postgres servers: their postmaster is found through `postmaster.pid`. */
const postgresDirs = new Set<string>();
/** Orderly shutdown (stack.close: SIGTERM, profiles written, scratch Postgres stopped), tried first. */
const closers = new Set<() => Promise<void>>();

export function track<T extends ChildProcess>(child: T): T {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export function trackPostgres(dataDir: string): () => void {
  postgresDirs.add(dataDir);
  return () => postgresDirs.delete(dataDir);
}

export function onInterrupt(close: () => Promise<void>): () => void {
  closers.add(close);
  return () => closers.delete(close);
}

/** The pids of every live child (for tests: nothing may outlive the bench). */
export function trackedPids(): number[] {
  const pids = [...live].filter((c) => c.exitCode === null && c.signalCode === null).map((c) => c.pid!);
  for (const dir of postgresDirs) {
    const pid = postmasterPid(dir);
    if (pid) pids.push(pid);
  }
  return pids;
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Synchronous, so it also works from the 'exit' event: SIGKILL every child, fast shutdown for Postgres. */
export function killAll(): void {
  for (const child of live) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    // A stopped child (SIGSTOP in a fault scenario) gets SIGKILL all the same; SIGKILL needs no SIGCONT.
    child.kill('SIGKILL');
  }
  // SIGINT is Postgres' fast shutdown: its backends end with the postmaster (SIGKILL would leave them).
  for (const dir of postgresDirs) {
    const pid = postmasterPid(dir);
    if (pid)
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        // already gone
      }
  }
}

let installed = false;

/**
 * Exit handlers for the bench's own process: on SIGINT/SIGTERM the orderly close is tried for up to 10 s,
 * then everything left is killed and the process exits with 128 + signal; on an uncaught exception or
 * unhandled rejection everything is killed and it exits 1; on any exit, whatever is still registered is killed.
 */
export function installExitHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  let stopping = false;
  const interrupted = (signal: NodeJS.Signals, code: number) => {
    process.stderr.write(`bench: ${signal}, stopping every process it started\n`);
    if (stopping) {
      killAll();
      process.exit(code);
    }
    stopping = true;
    const deadline = setTimeout(() => (killAll(), process.exit(code)), 10_000);
    deadline.unref();
    void Promise.allSettled([...closers].map((close) => close())).finally(() => {
      killAll();
      process.exit(code);
    });
  };
  process.on('SIGINT', () => interrupted('SIGINT', 130));
  process.on('SIGTERM', () => interrupted('SIGTERM', 143));
  const crashed = (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killAll();
    process.exit(1);
  };
  process.on('uncaughtException', crashed);
  process.on('unhandledRejection', crashed);
}
