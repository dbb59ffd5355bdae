/**
 * The step DSL (see the product brief), as TypeBox schemas: one definition that the API validates
 * templates against and each worker executor validates its step against, so a template the API accepts is
 * a template the worker runs. Strings may hold `{{params.x}}` placeholders; each executor renders them the
 * way that is safe for its field (services/worker/src/params).
 */
import Type, { type Static } from 'typebox';
import { ArtifactKind } from './common.js';

const strict = { additionalProperties: false } as const;

/**
 * Environment variables a step adds: POSIX names, string values. `additionalProperties: false` is what
 * makes the key pattern a rule: a TypeBox record alone lets a key that misses the pattern (`A-B`) through
 * with any value.
 */
export const StepEnv = Type.Record(
  Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,254}$' }),
  Type.String({ maxLength: 100_000 }),
  {
    additionalProperties: false,
  },
);

/** HTTP header names (RFC 9110 tokens: no CR, LF, colon or space) to string values without line breaks. */
export const HttpHeaders = Type.Record(
  Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$" }),
  Type.String({ maxLength: 8000, pattern: '^[^\\r\\n]*$' }),
  {
    additionalProperties: false,
  },
);

/** A file a step declares as an artifact: a path (relative to the run directory, or inside the container). */
export const DeclaredArtifact = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 1000 }),
    kind: ArtifactKind,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  strict,
);
export type DeclaredArtifact = Static<typeof DeclaredArtifact>;

/** Fields every kind shares. */
const common = {
  name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9 _.-]*$' }),
  timeout_s: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 86_400 })),
  artifacts: Type.Optional(Type.Array(DeclaredArtifact, { maxItems: 50 })),
};

/** `shell`: a script run by /bin/sh (or bash) in its own process group, in the run directory. */
export const ShellStep = Type.Object(
  {
    ...common,
    kind: Type.Literal('shell'),
    script: Type.String({ minLength: 1, maxLength: 200_000 }),
    shell: Type.Optional(Type.Union([Type.Literal('sh'), Type.Literal('bash')])),
    env: Type.Optional(StepEnv),
  },
  strict,
);
export type ShellStep = Static<typeof ShellStep>;

/**
 * `docker`: a container from `image`, hardened by the worker (non-root, read-only root filesystem, no
 * capabilities, no new privileges, network `none` unless `network` says otherwise). Limits a step sets are
 * bounded by the worker's maxima; capabilities only from the worker's allowlist.
 */
export const DockerStep = Type.Object(
  {
    ...common,
    kind: Type.Literal('docker'),
    image: Type.String({ minLength: 1, maxLength: 500 }),
    command: Type.Optional(Type.Array(Type.String({ maxLength: 100_000 }), { maxItems: 200 })),
    env: Type.Optional(StepEnv),
    network: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    memory_mb: Type.Optional(Type.Integer({ minimum: 6, maximum: 262_144 })),
    cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 256 })),
    /** Most processes in the container (a fork bomb stays inside); at most the worker's OCR_DOCKER_MAX_PIDS. */
    pids_limit: Type.Optional(Type.Integer({ minimum: 8, maximum: 100_000 })),
    /** Linux capabilities to keep (all are dropped otherwise); each must be in the worker's OCR_DOCKER_CAP_ALLOWLIST. */
    cap_add: Type.Optional(
      Type.Array(Type.String({ pattern: '^(CAP_)?[A-Z_]{2,40}$' }), { maxItems: 41, uniqueItems: true }),
    ),
    /** Files (or directories) inside the container to copy out as artifacts once it has exited. */
    copy_out: Type.Optional(Type.Array(DeclaredArtifact, { maxItems: 50 })),
  },
  strict,
);
export type DockerStep = Static<typeof DockerStep>;

/** HTTP methods an `http` step may use. */
export const HttpMethod = Type.Union([
  Type.Literal('GET'),
  Type.Literal('HEAD'),
  Type.Literal('POST'),
  Type.Literal('PUT'),
  Type.Literal('PATCH'),
  Type.Literal('DELETE'),
  Type.Literal('OPTIONS'),
]);

/** `http`: one request (redirects followed by hand, each hop checked), the response recorded. */
export const HttpStep = Type.Object(
  {
    ...common,
    kind: Type.Literal('http'),
    method: Type.Optional(HttpMethod),
    url: Type.String({ minLength: 1, maxLength: 8000 }),
    headers: Type.Optional(HttpHeaders),
    /** A string is sent as is; any other JSON value is sent as JSON. */
    body: Type.Optional(Type.Unknown()),
    /** Statuses that count as success; any 2xx when absent. */
    expect_status: Type.Optional(
      Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), { minItems: 1, maxItems: 50 }),
    ),
    /** Host names the request (and every redirect) may go to; `*.example.com` matches subdomains. */
    allow_hosts: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 100 })),
    /** Allow private, loopback and link-local addresses (refused by default, against SSRF). */
    allow_private: Type.Optional(Type.Boolean()),
    follow_redirects: Type.Optional(Type.Boolean()),
  },
  strict,
);
export type HttpStep = Static<typeof HttpStep>;

/** An MCP server started as a child process, spoken to over stdio. */
export const McpStdioServer = Type.Object(
  {
    command: Type.String({ minLength: 1, maxLength: 1000 }),
    args: Type.Optional(Type.Array(Type.String({ maxLength: 10_000 }), { maxItems: 100 })),
    env: Type.Optional(StepEnv),
  },
  strict,
);

/** An MCP server reached over streamable HTTP. */
export const McpHttpServer = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', maxLength: 8000 }),
    headers: Type.Optional(HttpHeaders),
  },
  strict,
);

/** `mcp`: call one tool of an MCP server with arguments. */
export const McpStep = Type.Object(
  {
    ...common,
    kind: Type.Literal('mcp'),
    server: Type.Union([McpStdioServer, McpHttpServer]),
    tool: Type.String({ minLength: 1, maxLength: 200 }),
    arguments: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  strict,
);
export type McpStep = Static<typeof McpStep>;

/** `noop`: succeeds at once (benchmarks, plumbing tests). */
export const NoopStep = Type.Object({ ...common, kind: Type.Literal('noop') }, strict);
export type NoopStep = Static<typeof NoopStep>;
