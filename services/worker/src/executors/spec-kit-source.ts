/**
 * Where `spec-kit.validate` reads a kit from — exactly one of: an artifact of an earlier run (a zip, or one
 * markdown document), a project's latest spec_docs, a local path, or a git URL cloned shallowly into the
 * run directory. Artifacts and spec_docs come through the run's fenced API; the worker holds no credentials.
 */
import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { realpath } from 'node:fs/promises';
import { isIP } from 'node:net';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import Type, { type Static } from 'typebox';
import Value from 'typebox/value';
import { kitPathProblem } from '@ocr/contracts';
import { readSpecKitDir, SPEC_FILES, unzipSpecKit, type SpecKitFiles } from '@ocr/spec-kit';
import { isNonPublicAddress } from './http-guard.js';
import { ExecutorError, type StepContext } from './types.js';

/** The source fields of a validate step's input (other fields, e.g. the run's other params, are ignored). */
export const SpecKitSource = Type.Object({
  artifact_id: Type.Optional(
    Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' }),
  ),
  project: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  path: Type.Optional(Type.String({ minLength: 1, maxLength: 4000 })),
  git_url: Type.Optional(Type.String({ maxLength: 4000, pattern: '^(https?|ssh|git|file)://' })),
  /** With `git_url`: the branch or tag to clone. */
  ref: Type.Optional(Type.String({ maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]*$' })),
  /** With `git_url`: the kit's directory inside the repository. */
  subdir: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
});
export type SpecKitSource = Static<typeof SpecKitSource>;

const SOURCES = ['artifact_id', 'project', 'path', 'git_url'] as const;

/** A kit read from its source, and a label for the report. */
export interface LoadedKit {
  files: SpecKitFiles;
  label: string;
}

/** Read the kit an input names. Throws `ExecutorError` (`invalid_input`, `input_unavailable`, `git_unavailable`, `git_failed`). */
/**
 * Where a kit may come from: `git_url`'s schemes (https only by default) and whether private addresses are
 * allowed; `pathRoot`, the directory an absolute `path` must be inside (OCR_SPEC_KIT_ROOT; none: only
 * relative paths, inside the run directory).
 */
export interface GitSourcePolicy {
  schemes: readonly string[];
  allowPrivate: boolean;
  pathRoot?: string;
}

export const DEFAULT_GIT_POLICY: GitSourcePolicy = { schemes: ['https'], allowPrivate: false };

export async function loadSpecKit(
  input: Record<string, unknown>,
  ctx: StepContext,
  signal: AbortSignal,
  git: GitSourcePolicy = DEFAULT_GIT_POLICY,
): Promise<LoadedKit> {
  const source = input as SpecKitSource;
  for (const error of Value.Errors(SpecKitSource, input))
    throw new ExecutorError(
      'invalid_input',
      `input${error.instancePath.replace(/\//g, '.')}: ${error.message}`,
    );
  const given = SOURCES.filter((key) => source[key] !== undefined && source[key] !== '');
  if (given.length !== 1) {
    throw new ExecutorError(
      'invalid_input',
      `input: give exactly one of ${SOURCES.join(', ')} (got ${given.length ? given.join(', ') : 'none'})`,
    );
  }
  if (source.artifact_id)
    return {
      files: await fromArtifact(source.artifact_id, ctx, signal),
      label: `artifact ${source.artifact_id}`,
    };
  if (source.project)
    return { files: await fromSpecDocs(source.project, ctx), label: `spec_docs of ${source.project}` };
  if (source.path)
    return { files: await fromConfinedDir(source.path, ctx.workdir, git.pathRoot), label: source.path };
  await checkGitUrl(source.git_url!, git);
  const dir = await cloneShallow(source.git_url!, source.ref, ctx, signal);
  const kitDir = resolve(dir, source.subdir ?? '.');
  const rel = relative(dir, kitDir);
  if (rel.startsWith('..') || isAbsolute(rel))
    throw new ExecutorError('invalid_input', 'input.subdir: must stay inside the repository');
  return {
    files: await fromDir(kitDir),
    label: `${source.git_url}${source.ref ? `@${source.ref}` : ''}${source.subdir ? `:${source.subdir}` : ''}`,
  };
}

function runApiOf(ctx: StepContext) {
  if (!ctx.runApi)
    throw new ExecutorError(
      'input_unavailable',
      'this step needs the API to read its input, and none is connected',
    );
  return ctx.runApi;
}

async function fromArtifact(id: string, ctx: StepContext, signal: AbortSignal): Promise<SpecKitFiles> {
  const artifact = await runApiOf(ctx).readArtifact(id, signal);
  const isZip = artifact.kind === 'zip' || (artifact.bytes[0] === 0x50 && artifact.bytes[1] === 0x4b);
  if (isZip) {
    try {
      return unzipSpecKit(artifact.bytes);
    } catch (err) {
      throw new ExecutorError('input_unavailable', `artifact ${id}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  // A single document: the kit is that file alone (the validator reports the others missing).
  const name = SPEC_FILES.find((file) => artifact.name === file || artifact.name.endsWith(`/${file}`));
  if (!name)
    throw new ExecutorError(
      'input_unavailable',
      `artifact ${id} (${artifact.name}) is neither a zip nor one of ${SPEC_FILES.join(', ')}`,
    );
  return { [name]: new TextDecoder().decode(artifact.bytes) };
}

async function fromSpecDocs(project: string, ctx: StepContext): Promise<SpecKitFiles> {
  const docs = await runApiOf(ctx).readSpecDocs(project);
  if (docs.length === 0) throw new ExecutorError('input_unavailable', `project ${project} has no spec_docs`);
  return Object.fromEntries(docs.map((d) => [d.name, d.content]));
}

/**
 * A `path` source, confined: a relative path is read inside the run directory, an absolute one only inside
 * the operator's root; `..` segments are refused outright, and every directory and document is resolved
 * with symlinks followed and must still be inside (a link to `/etc` or to `../../secrets.md` is refused).
 */
async function fromConfinedDir(
  path: string,
  workdir: string,
  root: string | undefined,
): Promise<SpecKitFiles> {
  const problem = kitPathProblem(path);
  if (problem) throw new ExecutorError('path_refused', `input.path ${problem}`);
  let base: string;
  if (isAbsolute(path)) {
    if (!root)
      throw new ExecutorError(
        'path_refused',
        'input.path: absolute paths are not allowed on this worker (no OCR_SPEC_KIT_ROOT); give a path inside the run directory',
      );
    base = resolve(root);
  } else base = workdir;
  const dir = resolve(base, path);
  if (!within(base, dir))
    throw new ExecutorError(
      'path_refused',
      `input.path: ${path} is outside ${isAbsolute(path) ? 'OCR_SPEC_KIT_ROOT' : 'the run directory'}`,
    );
  let realBase: string;
  let realDir: string;
  try {
    realBase = await realpath(base);
    realDir = await realpath(dir);
  } catch (err) {
    throw new ExecutorError('input_unavailable', `input.path: ${path}: no such directory`, { cause: err });
  }
  if (!within(realBase, realDir))
    throw new ExecutorError(
      'path_refused',
      `input.path: ${path} is a symlink to somewhere outside the allowed root`,
    );
  // Each document is checked before it is read: a link inside the kit to a file outside is refused too.
  for (const name of SPEC_FILES) {
    const real = await realpath(join(realDir, name)).catch(() => undefined);
    if (real && !within(realBase, real))
      throw new ExecutorError(
        'path_refused',
        `input.path: ${path}/${name} is a symlink to somewhere outside the allowed root`,
      );
  }
  return fromDir(realDir);
}

/** Is `full` inside `dir` (both absolute, resolved)? */
function within(dir: string, full: string): boolean {
  const rel = relative(dir, full);
  return rel === '' || !(rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel));
}

async function fromDir(dir: string): Promise<SpecKitFiles> {
  try {
    return await readSpecKitDir(dir);
  } catch (err) {
    throw new ExecutorError('input_unavailable', (err as Error).message, { cause: err });
  }
}

/**
 * A `git_url` must use an allowed scheme (https by default) and, unless private addresses are allowed, its
 * host must resolve only to public addresses — the http steps' SSRF guard. (git resolves the name again
 * when it connects; network policies close the remaining rebinding window on Kubernetes.)
 */
async function checkGitUrl(text: string, policy: GitSourcePolicy): Promise<void> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ExecutorError('invalid_input', 'input.git_url: not a URL');
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (!policy.schemes.includes(scheme))
    throw new ExecutorError(
      'scheme_refused',
      `input.git_url: ${scheme} URLs are not allowed on this worker (allowed: ${policy.schemes.join(', ')}; OCR_SPEC_KIT_GIT_SCHEMES)`,
    );
  if (url.username || url.password)
    throw new ExecutorError('credentials_in_url', 'input.git_url: credentials in the URL are not allowed');
  if (policy.allowPrivate || scheme === 'file') return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [host]
    : await lookup(host, { all: true })
        .then((all) => all.map((a) => a.address))
        .catch(() => {
          throw new ExecutorError('git_failed', `input.git_url: cannot resolve ${host}`);
        });
  const bad = addresses.find((a) => isNonPublicAddress(a));
  if (bad)
    throw new ExecutorError(
      'address_refused',
      `input.git_url: ${host} is a private, loopback or link-local address (${bad})`,
    );
}

/** `git clone --depth 1` into the run directory; argv only (no shell), no prompts, stopped with the step. */
async function cloneShallow(
  url: string,
  ref: string | undefined,
  ctx: StepContext,
  signal: AbortSignal,
): Promise<string> {
  const dir = join(ctx.workdir, 'spec-kit-source');
  const args = ['clone', '--depth', '1', '--quiet', ...(ref ? ['--branch', ref] : []), '--', url, dir];
  ctx.emit({
    level: 'info',
    type: 'spec-kit.clone',
    message: `git clone --depth 1 ${url}${ref ? ` (${ref})` : ''}`,
  });
  await new Promise<void>((resolvePromise, reject) => {
    // A clean environment: never the worker's (its API token, proxies, GIT_* settings), no prompts, no system or global config.
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: ctx.workdir,
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: 'true',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
    };
    execFile(
      'git',
      ['-c', 'protocol.ext.allow=never', ...args],
      { signal, timeout: 300_000, env },
      (err, _stdout, stderr) => {
        if (!err) return resolvePromise();
        if ((err as NodeJS.ErrnoException).code === 'ENOENT')
          return reject(
            new ExecutorError(
              'git_unavailable',
              'git is not installed on this worker: cannot read a git URL',
            ),
          );
        reject(
          new ExecutorError(
            'git_failed',
            `git clone failed: ${String(stderr).trim().split('\n').slice(-3).join(' ') || err.message}`,
          ),
        );
      },
    );
  });
  return dir;
}
