export { createTestDatabase, type TestDatabase, type TestLike } from './database.js';
export { makeRun, makeRuns } from './factories.js';
export { startStack, type Stack, type StackOptions } from './stack.js';
export { eventually, spawnLogged, spawnOcr, type LoggedProcess, type LogLine } from './processes.js';
export { finished, startTestWorker } from './worker.js';
