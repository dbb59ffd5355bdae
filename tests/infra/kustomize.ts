/**
 * Render kustomizations the way an operator does (`kubectl kustomize`), offline, and parse the result.
 * kubectl embeds kustomize; a standalone `kustomize` binary is the fallback. Neither is an npm package,
 * so a machine without both fails with one line saying what to install (Debian: kubernetes-client).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** Repository root (tests/infra/ is two levels down). */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');
/** infra/k8s, where base/, overlays/ and components/ live. */
export const K8S_ROOT = join(REPO_ROOT, 'infra/k8s');

/** A Kubernetes object as rendered: only the fields every object has are typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

function whichOnPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

/** The command that renders a kustomization directory, or an error naming what to install. */
function renderCommand(): [string, string[]] {
  if (whichOnPath('kubectl')) return ['kubectl', ['kustomize']];
  if (whichOnPath('kustomize')) return ['kustomize', ['build']];
  throw new Error('kustomize_unavailable: install kubectl (Debian package kubernetes-client) or kustomize');
}

/** Render one kustomization directory to its objects; a kustomize error becomes a thrown Error with its stderr. */
export function render(dir: string): K8sObject[] {
  const [cmd, args] = renderCommand();
  const result = spawnSync(cmd, [...args, dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0)
    throw new Error(`kustomize failed for ${dir}: ${result.stderr || result.error?.message}`);
  return parseObjects(result.stdout);
}

/** Parse a multi-document YAML stream into objects, failing on any YAML error. */
export function parseObjects(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

/**
 * Render base plus the given components, as an overlay an operator would write. kustomize refuses absolute
 * paths, so the throwaway kustomization points at the repository with relative ones.
 */
export function renderWithComponents(components: string[]): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'ocr-kustomize-'));
  try {
    const rel = (p: string) => relative(dir, join(K8S_ROOT, p));
    const lines = [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      `  - ${rel('base')}`,
      'components:',
      ...components.map((c) => `  - ${rel(`components/${c}`)}`),
    ];
    writeFileSync(join(dir, 'kustomization.yaml'), `${lines.join('\n')}\n`);
    return render(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Find exactly one object by kind and name, or throw naming what was missing. */
export function find<T = K8sObject>(objects: K8sObject[], kind: string, name: string): T {
  const hits = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (hits.length !== 1) throw new Error(`expected one ${kind}/${name}, found ${hits.length}`);
  return hits[0] as T;
}
