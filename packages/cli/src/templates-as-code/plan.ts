import { isApiError, type OcrClient, type Template, type TemplateInput } from '@ocr/client';
import {
  canonicalTemplate,
  sameTemplate,
  templateFromServer,
  templateYaml,
  type TemplateDoc,
} from './canonical.js';
import { unifiedDiff } from './line-diff.js';
import { findTemplateFiles, readTemplateFile } from './template-files.js';

/** What `templates apply` does with one template. */
export type Action = 'create' | 'update' | 'unchanged' | 'prune';

export interface PlanEntry {
  action: Action;
  name: string;
  /** The file it comes from (none for a pruned template). */
  path?: string;
  /** The server's latest version (none for a created template). */
  version?: number;
  /** The file's template as written, for the write. */
  input?: Record<string, unknown>;
  /** A unified diff of the server's template against the file's (empty when unchanged). */
  diff: string;
}

export type Plan = { ok: true; entries: PlanEntry[] } | { ok: false; problems: string[] };

/**
 * Read and validate every file, then compare them with the server. Validation is complete before the plan
 * exists: a single problem anywhere (unreadable or unparsable file, two files with one name, a template the
 * API's own validation refuses) gives no plan at all, only every problem, one line each, naming its file.
 */
export async function planApply(client: OcrClient, paths: string[], opts: { prune: boolean }): Promise<Plan> {
  const found = await findTemplateFiles(paths);
  const problems = [...found.problems];
  const files: { path: string; content: Record<string, unknown> }[] = [];
  const byName = new Map<string, string>();
  for (const path of found.files) {
    const file = await readTemplateFile(path);
    if (!file.ok) {
      problems.push(...file.problems);
      continue;
    }
    const name = file.content.name;
    if (typeof name === 'string' && byName.has(name)) {
      problems.push(`${path}: name ${name} is already defined in ${byName.get(name)}`);
      continue;
    }
    if (typeof name === 'string') byName.set(name, path);
    files.push(file);
  }
  for (const file of files) problems.push(...(await serverProblems(client, file.path, file.content)));
  if (problems.length > 0) return { ok: false, problems };

  const server = new Map((await client.templates.list()).templates.map((t) => [t.name, t]));
  const entries: PlanEntry[] = files.map(({ path, content }) => {
    const desired = canonicalTemplate(content);
    const current = server.get(desired.name);
    if (!current)
      return {
        action: 'create',
        name: desired.name,
        path,
        input: content,
        diff: diffOf(undefined, desired, path),
      };
    const existing = templateFromServer(current);
    const same = sameTemplate(existing, desired);
    return {
      action: same ? 'unchanged' : 'update',
      name: desired.name,
      path,
      version: current.version,
      input: content,
      diff: same ? '' : diffOf(current, desired, path),
    };
  });
  if (opts.prune) {
    const named = new Set(entries.map((e) => e.name));
    for (const current of [...server.values()].sort((a, b) => (a.name < b.name ? -1 : 1)))
      if (!named.has(current.name))
        entries.push({
          action: 'prune',
          name: current.name,
          version: current.version,
          diff: diffOf(current, undefined, '/dev/null'),
        });
  }
  return { ok: true, entries };
}

/** The API's verdict on one file (`POST /v1/templates/validate`): its problems as lines naming the file. */
async function serverProblems(client: OcrClient, path: string, content: unknown): Promise<string[]> {
  try {
    await client.templates.validate(content);
    return [];
  } catch (err) {
    if (!isApiError(err, 'validation_failed')) throw err;
    const details = Array.isArray(err.details) ? (err.details as Record<string, unknown>[]) : [];
    if (details.length === 0) return [`${path}: ${err.message}`];
    return details.map((d) => {
      const where = d.line ? ` (line ${String(d.line)}, column ${String(d.column)})` : '';
      const message = String(d.message);
      // A refused placeholder's message names its field already.
      return d.reason ? `${path}: ${message}${where}` : `${path}: ${String(d.field)}: ${message}${where}`;
    });
  }
}

function diffOf(current: Template | undefined, desired: TemplateDoc | undefined, path: string): string {
  const before = current ? templateYaml(templateFromServer(current)) : '';
  const after = desired ? templateYaml(desired) : '';
  const from = current ? `server/${current.name} v${current.version}` : '/dev/null';
  return unifiedDiff(before, after, { from, to: desired ? path : '/dev/null' });
}

/**
 * Carry out a plan: create, update (a new version) and retire; unchanged templates are not touched. An
 * update names the version the plan compared against (`If-Match`), so a template someone changed since is
 * refused (409 conflict) rather than overwritten unseen; a create is refused the same way by POST when the
 * name appeared meanwhile.
 */
export async function applyPlan(
  client: OcrClient,
  entries: PlanEntry[],
  report: (entry: PlanEntry, version: number | undefined) => void,
): Promise<void> {
  for (const entry of entries) {
    const input = entry.input as TemplateInput | undefined;
    if (entry.action === 'create') report(entry, (await client.templates.create(input!)).version);
    else if (entry.action === 'update')
      report(entry, (await client.templates.put(input!, { ifVersion: entry.version! })).version);
    else if (entry.action === 'prune') {
      await client.templates.delete(entry.name);
      report(entry, undefined);
    } else report(entry, entry.version);
  }
}
