import { fork, type ChildProcess } from 'node:child_process';
import { track } from './children.js';

/** A forked bench shard (a child process over IPC) and a way to wait for its next message of a type. */
export interface Shard<From extends { type: string }, To> {
  child: ChildProcess;
  tell(message: To): void;
  next<T extends From['type']>(type: T): Promise<Extract<From, { type: T }>>;
}

/**
 * Fork `module` (run by tsx, as the bench itself is; no CPU profile: BENCH_CPU_PROF profiles the API and
 * workers) and register it so the bench's exit handlers kill it. `next(type)` rejects if the shard exits first.
 */
export function forkShard<From extends { type: string }, To>(module: string, name: string): Shard<From, To> {
  const child = track(fork(module, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const waiting = new Map<string, (m: From) => void>();
  child.on('message', (m: From) => {
    const resolve = waiting.get(m.type);
    waiting.delete(m.type);
    resolve?.(m);
  });
  return {
    child,
    tell: (message) => child.send(message as object),
    next: (type) =>
      new Promise((resolve, reject) => {
        waiting.set(type, resolve as (m: From) => void);
        child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
      }),
  };
}
