import { readFileSync } from 'node:fs';

// The in-process test worker (startTestWorker, finished) lives in @ocr/testkit: console tests use it too.
export { finished, startTestWorker } from '@ocr/testkit';

/** Is a process alive? A zombie (dead, not yet reaped by a PID 1 that does not reap) counts as gone. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0) !== 'Z';
  } catch {
    return false;
  }
}
