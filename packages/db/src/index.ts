export * from './types.js';
export { connect, PREPARED, type Db, type ConnectOptions } from './connect.js';
export {
  migrate,
  migrateToLatest,
  knownMigrations,
  buildMigrations,
  UnknownMigrationError,
  type MigrateOutcome,
} from './migrate.js';
export {
  ENQUEUE_CHANNEL,
  EVENTS_CHANNEL,
  STATUS_CHANNEL,
  createListenClient,
  publishHints,
  type NotifyOption,
} from './queue/channels.js';
export { createDatabase, dropDatabase, databaseUrl, ping } from './databases.js';
export { enqueueRuns, type EnqueueInput, type EnqueueResult } from './queue/enqueue.js';
export { claimRuns, type ClaimInput } from './queue/claim.js';
export { HOT_RUN_COLUMNS, RUN_ROW_COLUMNS, type HotRun } from './queue/run-columns.js';
export { diagnoseFence, fenceMiss, leasedRun, type FenceMiss } from './queue/fence.js';
export {
  heartbeatRuns,
  completeRuns,
  releaseRun,
  type Fenced,
  type Lease,
  type HeartbeatAnswer,
  type Completion,
  type CompletedRun,
} from './queue/lease.js';
export {
  appendEvents,
  appendEventsMany,
  appendSystemEvent,
  readEvents,
  type AppendItem,
  type EventInput,
  type AppendOptions,
  type AppendResult,
  type ReadEventsInput,
} from './queue/events.js';
export { readFeedEvents, lastSeqs } from './queue/feed.js';
export {
  completeRunsWithEvents,
  completeRunWithEvents,
  type CompletionWithEvents,
  type CompletionSummary,
  type CompletedHotRun,
} from './queue/complete-with-events.js';
export {
  cancelRun,
  cancelledWithKey,
  retryRun,
  type CancelOutcome,
  type RetryOutcome,
} from './queue/cancel.js';
export {
  findStaleRuns,
  sweepStaleRuns,
  finishAbandonedCancels,
  findOrphanedLeases,
  type StaleRun,
  type SweptRun,
} from './queue/sweep.js';
export { backoffCapSeconds } from './queue/backoff.js';
export { sanitizeText, sanitizeJson } from './queue/sanitize.js';
export {
  getTemplate,
  listTemplates,
  putTemplate,
  putTemplateIfLatest,
  deleteTemplate,
} from './queries/templates.js';
export {
  createToken,
  type TokenInput,
  ensureBootstrapToken,
  findToken,
  listTokens,
  revokeToken,
  hashToken,
  mintToken,
  tokenPrefix,
} from './queries/tokens.js';
export {
  getRun,
  runScopes,
  getRunSteps,
  listRuns,
  explainListRuns,
  laneStates,
  waitReason,
  WORKER_LIVE_S,
  type ListRunsFilter,
  type LaneState,
} from './queries/runs.js';
export {
  laneOverview,
  explainLaneOverview,
  laneRuns,
  updateLane,
  type LaneOverview,
  type LaneRunSummary,
} from './queries/lanes.js';
export { registerWorker, listWorkers, type Registration, type WorkerOverview } from './queries/workers.js';
export { createSession, getSession, listSessions, closeSession } from './queries/sessions.js';
export {
  createArtifact,
  getArtifact,
  listArtifacts,
  completeArtifact,
  type ArtifactCompletion,
  type NewArtifact,
} from './queries/artifacts.js';
export {
  addSpecDoc,
  listSpecDocs,
  getSpecDoc,
  addRunSpecDocs,
  latestSpecDocContents,
  type RunSpecDocInput,
} from './queries/spec-docs.js';
export {
  findExpiredRuns,
  deleteRunEventsBatch,
  deleteStoredArtifactRows,
  deleteFinishedRuns,
  type RetentionPolicy,
  type ExpiredRun,
} from './queries/retention.js';
export {
  acquireOrRenewLeadership,
  tryAcquireOrRenewLeadership,
  resignLeadership,
  currentLeader,
  type DatabaseClock,
  type LeadershipLease,
} from './queries/leader.js';
export { exportDatabase, importDatabase, RestoreRefusedError, type BackupHeader } from './backup.js';
export { vacuumAnalyze } from './queries/planner.js';
export {
  searchArtifacts,
  explainSearchArtifacts,
  namePattern,
  type ArtifactSearchFilter,
  type ArtifactSearchRow,
} from './queries/artifact-search.js';
export { insertSyntheticArtifacts } from './synthetic.js';
