import { fileURLToPath } from 'node:url';
import { spawnLogged, type LoggedProcess, type TestLike } from '@ocr/testkit';

export { eventually, type LogLine } from '@ocr/testkit';

const FIXTURE = fileURLToPath(new URL('./fixtures/sweeper-process.ts', import.meta.url));

/** A sweeper replica in a child process of its own (killed at teardown, SIGCONT first in case it is stopped). */
export type SweeperProcess = LoggedProcess;

/** Start `fixtures/sweeper-process.ts` with `env` (on top of the test's environment). */
export function spawnSweeper(t: TestLike, env: Record<string, string>): SweeperProcess {
  return spawnLogged(t, ['--import', 'tsx', FIXTURE], { PORT: '0', ...env });
}
