export {
  startEmbeddedPostgres,
  freePort,
  previousPort,
  type EmbeddedPostgresServer,
  type EmbeddedPostgresOptions,
} from './postgres.js';
export { startEmbeddedS3, s3Env, type EmbeddedS3Server } from './s3.js';
