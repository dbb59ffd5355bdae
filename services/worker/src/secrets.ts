/**
 * Secret values for `{{secrets.NAME}}`: they live on the worker, never in the API. Two sources, both set by
 * the operator where the worker runs (on Kubernetes, a Secret):
 *
 * - `OCR_SECRET_<NAME>` variables of the worker's own environment (read once, at start);
 * - `OCR_SECRETS_DIR`: a directory with one file per secret, the file name being the secret's name (a
 *   Secret mounted as a volume). Read again at the start of every run, so a rotated value is used by the
 *   next run without a restart. One trailing newline is dropped (`echo value > NAME` writes one).
 *
 * A name is looked up as its variable (`{{secrets.db_pass}}` is `OCR_SECRET_DB_PASS`), the way the shell
 * sees it, so both sources agree; a file wins over a variable of the same name. Values are never logged,
 * never sent to the API, and masked in everything a run sends (secret-mask.ts). A step receives only the
 * secrets it references.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findPlaceholders, secretEnvName } from '@ocr/contracts';
import type { Logger } from '@ocr/runtime';

/** Secret values by variable name (`OCR_SECRET_<NAME>`). */
export type SecretStore = ReadonlyMap<string, string>;

/** A file or variable name that can be a secret's name. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Largest secret file read (a certificate chain fits; a mistake such as a log file does not). */
export const MAX_SECRET_BYTES = 64 * 1024;
const ENV_PREFIX = 'OCR_SECRET_';

export interface SecretSourceOptions {
  /** The worker's environment (process.env). */
  env: Record<string, string | undefined>;
  /** OCR_SECRETS_DIR; empty or undefined: no files. */
  dir?: string;
  log: Logger;
}

/** Where a run's secrets come from: `load()` reads the current values (files again each time). */
export interface SecretSource {
  load(): Promise<SecretStore>;
}

/** The worker's secret source from its environment and, when set, its secrets directory. */
export function createSecretSource(options: SecretSourceOptions): SecretSource {
  const fromEnv = new Map<string, string>();
  for (const [key, value] of Object.entries(options.env)) {
    if (!key.startsWith(ENV_PREFIX) || value === undefined) continue;
    const name = key.slice(ENV_PREFIX.length);
    if (NAME.test(name)) fromEnv.set(secretEnvName(name), value);
  }
  const dir = options.dir;
  return {
    async load() {
      if (!dir) return fromEnv;
      const store = new Map(fromEnv);
      let entries: string[];
      try {
        entries = await readdir(dir);
      } catch (err) {
        // Unreadable now (a remount in progress): runs that need a secret fail with secret_missing, naming it.
        options.log.error({ dir, code: (err as NodeJS.ErrnoException).code }, 'secrets directory unreadable');
        return store;
      }
      const seen = new Map<string, string>();
      for (const entry of entries) {
        // Kubernetes keeps its own `..data` links and timestamped folders next to the keys: not secrets.
        if (!NAME.test(entry)) continue;
        const variable = secretEnvName(entry);
        const other = seen.get(variable);
        if (other !== undefined) {
          options.log.warn(
            { files: [other, entry] },
            'two secret files share one name once upper-cased: neither is used',
          );
          store.delete(variable);
          continue;
        }
        seen.set(variable, entry);
        const value = await readSecretFile(join(dir, entry)).catch((err: unknown) => {
          options.log.warn({ file: entry, reason: (err as Error).message }, 'secret file skipped');
          return undefined;
        });
        if (value !== undefined) store.set(variable, value);
      }
      return store;
    },
  };
}

async function readSecretFile(path: string): Promise<string> {
  const bytes = await readFile(path);
  if (bytes.length > MAX_SECRET_BYTES) throw new Error(`larger than ${MAX_SECRET_BYTES} bytes`);
  return bytes.toString('utf8').replace(/\r?\n$/, '');
}

/** The names of every `{{secrets.NAME}}` a step references, anywhere in it. */
export function referencedSecrets(step: unknown): string[] {
  const names = new Set<string>();
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      for (const p of findPlaceholders(value)) if (p.ns === 'secrets') names.add(p.name);
    } else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(step);
  return [...names];
}

/**
 * The secrets one step may use: only those it references, by the name it uses. A reference to a secret
 * the worker does not hold is left out, so rendering it fails the step with `secret_missing`.
 */
export function secretsForStep(step: unknown, store: SecretStore): Record<string, string> {
  const out: Record<string, string> = {};
  // A worker holding no secrets has none to give: the step is not even walked for references.
  if (store.size === 0) return out;
  for (const name of referencedSecrets(step)) {
    const value = store.get(secretEnvName(name));
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** The `OCR_SECRET_<NAME>` variables a shell step's rendered script reads (`"${OCR_SECRET_X}"`). */
export function secretVariables(secrets: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(secrets).map(([name, value]) => [secretEnvName(name), value]));
}
