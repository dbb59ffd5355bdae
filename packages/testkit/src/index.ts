export { createTestDatabase, type TestDatabase, type TestLike } from './database.js';
export { makeRun, makeRuns } from './factories.js';
