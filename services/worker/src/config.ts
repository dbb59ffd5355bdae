import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import Type, { type Static } from 'typebox';
import { LANE_NAME_PATTERN } from '@ocr/contracts';
import { loadConfig } from '@ocr/runtime';

/** Every variable this process reads (docs/operator.md lists each; tests/docs.test.ts checks both ways). */
export const WorkerConfigSchema = Type.Object({
  OCR_API_URL: Type.String({ minLength: 1, pattern: '^https?://', description: 'base URL of the API' }),
  OCR_TOKEN: Type.String({ minLength: 1, description: 'a token with the worker role' }),
  OCR_LANES: Type.String({ default: 'A', minLength: 1, description: 'comma-separated lane names' }),
  OCR_CONCURRENCY: Type.Integer({ default: 4, minimum: 1, maximum: 1000 }),
  OCR_CLAIM_BATCH: Type.Integer({ default: 100, minimum: 1, maximum: 1000 }),
  OCR_CLAIM_WAIT_MS: Type.Integer({ default: 25_000, minimum: 0, maximum: 60_000 }),
  OCR_SHUTDOWN_GRACE_S: Type.Number({ default: 30, minimum: 0 }),
  OCR_KILL_GRACE_S: Type.Number({ default: 5, minimum: 0 }),
  OCR_ARTIFACT_RETRY_S: Type.Number({
    default: 120,
    minimum: 0,
    maximum: 3600,
    description: 'how long storing one artifact is retried through API or object-storage outages',
  }),
  OCR_WORKER_ID: Type.String({ default: hostname(), minLength: 1, maxLength: 200 }),
  OCR_WORK_DIR: Type.String({ default: '' }),
  OCR_EVENT_FLUSH_MS: Type.Integer({ default: 200, minimum: 1 }),
  OCR_EVENT_BATCH: Type.Integer({ default: 500, minimum: 1, maximum: 5000 }),
  OCR_HTTP_ALLOW_PRIVATE: Type.Boolean({ default: false }),
  /** Honour a step's `allow_private: true` (off: a template author cannot reach private addresses unless the fleet allows it). */
  OCR_HTTP_STEPS_MAY_ALLOW_PRIVATE: Type.Boolean({ default: false }),
  /** URL schemes a Spec Kit `git_url` may use, comma-separated (https, http, ssh, git, file). */
  OCR_SPEC_KIT_GIT_SCHEMES: Type.String({
    default: 'https',
    pattern: '^(https|http|ssh|git|file)(,(https|http|ssh|git|file))*$',
  }),
  // Docker steps: the user containers run as (empty: the image's own), the networks a step may name, the
  // capabilities a step may keep, and the highest limits a step may ask for (docs/security.md#step-isolation).
  OCR_DOCKER_USER: Type.String({
    default: '65534:65534',
    pattern: '^([0-9]{1,10}(:[0-9]{1,10})?|[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?)?$',
  }),
  OCR_DOCKER_NETWORKS: Type.String({
    default: 'none,bridge',
    pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}(,[A-Za-z0-9][A-Za-z0-9_.-]{0,99})*$',
  }),
  OCR_DOCKER_CAP_ALLOWLIST: Type.String({ default: '', pattern: '^([A-Z_]{2,40}(,[A-Z_]{2,40})*)?$' }),
  OCR_DOCKER_MAX_MEMORY_MB: Type.Integer({ default: 4096, minimum: 6, maximum: 262_144 }),
  OCR_DOCKER_MAX_CPUS: Type.Number({ default: 2, exclusiveMinimum: 0, maximum: 256 }),
  OCR_DOCKER_MAX_PIDS: Type.Integer({ default: 1024, minimum: 8, maximum: 100_000 }),
  /** A directory of secret files (one per `{{secrets.NAME}}`, named NAME: a mounted Kubernetes Secret); empty: none. */
  OCR_SECRETS_DIR: Type.String({ default: '' }),
  /** The directory a Spec Kit `path` source may read under when absolute (relative paths stay in the run directory); empty: none. */
  OCR_SPEC_KIT_ROOT: Type.String({ default: '', pattern: '^(/.*)?$' }),
  // Job mode (a pod per queued run, started by a KEDA ScaledJob): claim at most this many runs in total, then
  // exit 0 once they are done. 0: no limit (Deployment mode).
  OCR_MAX_RUNS: Type.Integer({ default: 0, minimum: 0, maximum: 1_000_000 }),
  // Job mode: exit 0 after this many seconds with no run in progress and none claimed. 0: never.
  OCR_EXIT_WHEN_IDLE_S: Type.Number({ default: 0, minimum: 0, maximum: 86_400 }),
  // Docker steps run only on workers that declare it: the worker group with its own Docker engine (the
  // docker-in-docker component, privileged) and its own lanes. A general worker fails a docker step with
  // `docker_not_enabled` and never touches an engine, whatever its host offers.
  OCR_DOCKER_STEPS: Type.Boolean({ default: false }),
  PORT: Type.Integer({ default: 9101, minimum: 0, maximum: 65535 }),
});

const LANE = new RegExp(LANE_NAME_PATTERN);

export type WorkerConfig = Static<typeof WorkerConfigSchema> & {
  lanes: string[];
  /**
   * The `OCR_SECRET_<NAME>` variables of the environment the config was read from (secrets.ts). Not
   * enumerable: a logged or printed config never shows them.
   */
  readonly secretVariables: Readonly<Record<string, string>>;
};

/** Parse the worker's environment; every bad variable is reported on its own line. */
export function loadWorkerConfig(
  env: Record<string, string | undefined> = process.env,
): Readonly<WorkerConfig> {
  const config = loadConfig(WorkerConfigSchema, env, [
    // The API's own rule for lane names: a name it would refuse would make every claim a 400.
    (c) => {
      const bad = c.OCR_LANES.split(',').filter((lane) => !LANE.test(lane));
      return bad.length
        ? `OCR_LANES: ${bad.map((l) => JSON.stringify(l)).join(', ')} ${bad.length > 1 ? 'are not lane names' : 'is not a lane name'} (${LANE_NAME_PATTERN})`
        : undefined;
    },
    (c) => {
      const bad = c.OCR_DOCKER_NETWORKS.split(',').filter((n) => n === 'host' || n.startsWith('container'));
      return bad.length
        ? `OCR_DOCKER_NETWORKS: ${bad.join(', ')} would share the worker's or another container's network; not allowed`
        : undefined;
    },
    (c) => {
      if (!c.OCR_SECRETS_DIR) return undefined;
      try {
        return statSync(c.OCR_SECRETS_DIR).isDirectory()
          ? undefined
          : `OCR_SECRETS_DIR: ${c.OCR_SECRETS_DIR} is not a directory`;
      } catch {
        return `OCR_SECRETS_DIR: ${c.OCR_SECRETS_DIR} does not exist or cannot be read`;
      }
    },
  ]);
  const secretVariables = Object.freeze(
    Object.fromEntries(
      Object.entries(env).filter(
        (e): e is [string, string] => e[0].startsWith('OCR_SECRET_') && e[1] !== undefined,
      ),
    ),
  );
  const out = { ...config, lanes: config.OCR_LANES.split(',') } as WorkerConfig;
  Object.defineProperty(out, 'secretVariables', { value: secretVariables, enumerable: false });
  return Object.freeze(out);
}
