/**
 * Offline schema validation, strict like the API server (kubectl's default `--validate=strict`):
 * - kubernetes-models checks types, required fields and enums of every built-in kind and the CRDs it models;
 * - unknown fields (a misspelled `readOnlyRootFileSystem`) are reported by walking each object alongside its
 *   TypeScript model type: a key the type does not declare is an error, as the API server says
 *   `unknown field`. (The models' runtime validators accept unknown fields, hence the type walk.)
 * - KEDA objects are checked against the real CRD schemas vendored in ./crds (the npm models predate
 *   scaling modifiers), the same structural schema the API server prunes and validates with.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { parse } from 'yaml';
import { REPO_ROOT, type K8sObject } from './kustomize.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;
type ModelModule = Record<string, unknown>;

/** apiVersion → the kubernetes-models module that holds its kinds (core, built-in groups, CRDs). */
const MODULES: Record<string, string> = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'batch/v1': 'kubernetes-models/batch/v1',
  'policy/v1': 'kubernetes-models/policy/v1',
  'autoscaling/v2': 'kubernetes-models/autoscaling/v2',
  'networking.k8s.io/v1': 'kubernetes-models/networking.k8s.io/v1',
  'rbac.authorization.k8s.io/v1': 'kubernetes-models/rbac.authorization.k8s.io/v1',
  'admissionregistration.k8s.io/v1': 'kubernetes-models/admissionregistration.k8s.io/v1',
  'keda.sh/v1alpha1': '@kubernetes-models/keda/keda.sh/v1alpha1',
  'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
};

/** Kinds validated against a vendored CRD instead of the (older) npm model: `apiVersion/kind` → file. */
const CRDS: Record<string, string> = {
  'keda.sh/v1alpha1/ScaledObject': 'keda.sh_scaledobjects.yaml',
  'keda.sh/v1alpha1/TriggerAuthentication': 'keda.sh_triggerauthentications.yaml',
};

/** Validate one object; returns a problem line, or undefined when the object is valid. */
export async function schemaProblem(object: K8sObject): Promise<string | undefined> {
  const where = `${object.kind}/${object.metadata?.name}`;
  const specifier = MODULES[object.apiVersion];
  if (!specifier) return `${where}: no schema for apiVersion ${object.apiVersion}`;
  const module = (await import(specifier)) as ModelModule;
  const Model = module[object.kind] as ModelClass | undefined;
  if (typeof Model !== 'function')
    return `${where}: no schema for kind ${object.kind} in ${object.apiVersion}`;
  const crd = CRDS[`${object.apiVersion}/${object.kind}`];
  const problems: string[] = [];
  if (crd) {
    crdProblems(object, crdSchema(crd, object.apiVersion), '', problems);
  } else {
    const checked = await withPodMetadataChecked(object, problems);
    try {
      new Model(checked).validate();
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
    unknownFieldProblems(checked, specifier, problems);
  }
  return problems.length > 0 ? `${where}: ${problems.join('; ')}` : undefined;
}

/**
 * KEDA's CRD keeps a ScaledJob's pod-template metadata open (x-kubernetes-preserve-unknown-fields) while the
 * npm model types it as `{}`, which would refuse every label. Check that part as the pod ObjectMeta it
 * becomes, and validate the rest of the object with it emptied.
 */
async function withPodMetadataChecked(object: K8sObject, problems: string[]): Promise<K8sObject> {
  const podMeta =
    object.kind === 'ScaledJob' ? (object.spec as Any)?.jobTargetRef?.template?.metadata : undefined;
  if (!podMeta) return object;
  const { ObjectMeta } = await import('@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta');
  try {
    new ObjectMeta(podMeta).validate();
  } catch (err) {
    problems.push(
      `.spec.jobTargetRef.template.metadata: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  for (const key of Object.keys(podMeta)) {
    if (!['labels', 'annotations'].includes(key))
      problems.push(`.spec.jobTargetRef.template.metadata.${key}: not a pod template field`);
  }
  const copy = structuredClone(object) as Any;
  copy.spec.jobTargetRef.template.metadata = {};
  return copy;
}

// ---- unknown fields against the TypeScript model types ----

let program: { checker: ts.TypeChecker; types: Map<string, ts.Type> } | undefined;

/**
 * One program over a virtual file that names every modelled kind's interface (`I<Kind>`), built once per
 * test process (a few seconds) and then reused for every object.
 */
function modelTypes(): { checker: ts.TypeChecker; types: Map<string, ts.Type> } {
  if (program) return program;
  const file = join(REPO_ROOT, 'tests/infra/__model_types__.ts');
  const lines: string[] = [];
  Object.values(MODULES).forEach((specifier, i) => lines.push(`import type * as M${i} from '${specifier}';`));
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, text, lang, true) : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const built = ts.createProgram([file], options, host);
  const checker = built.getTypeChecker();
  const source = built.getSourceFile(file)!;
  const types = new Map<string, ts.Type>();
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    const specifier = (statement.moduleSpecifier as ts.StringLiteral).text;
    const namespace = statement.importClause?.namedBindings;
    if (!namespace || !ts.isNamespaceImport(namespace)) continue;
    const symbol = checker.getSymbolAtLocation(namespace.name);
    const moduleSymbol = symbol && checker.getAliasedSymbol(symbol);
    for (const exported of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
      const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (target.flags & ts.SymbolFlags.Interface && /^I[A-Z]/.test(exported.name)) {
        types.set(`${specifier}#${exported.name.slice(1)}`, checker.getDeclaredTypeOfSymbol(target));
      }
    }
  }
  program = { checker, types };
  return program;
}

/** Report every key of `object` (recursively) that its model type does not declare. */
function unknownFieldProblems(object: K8sObject, specifier: string, out: string[]): void {
  const { checker, types } = modelTypes();
  const type = types.get(`${specifier}#${object.kind}`);
  if (!type) {
    out.push(`no model type for ${object.kind}`);
    return;
  }
  walkType(checker, object, type, '', out);
}

function walkType(
  checker: ts.TypeChecker,
  value: unknown,
  declared: ts.Type,
  path: string,
  out: string[],
): void {
  if (value === null || typeof value !== 'object') return;
  const type = checker.getNonNullableType(declared);
  if (Array.isArray(value)) {
    const element = checker.isArrayType(type)
      ? checker.getTypeArguments(type as ts.TypeReference)[0]
      : undefined;
    if (element) value.forEach((item, i) => walkType(checker, item, element, `${path}[${i}]`, out));
    return;
  }
  const candidates = (type.isUnion() ? type.types : [type]).filter((t) => t.flags & ts.TypeFlags.Object);
  if (candidates.length === 0) return;
  const index = candidates.flatMap((t) => checker.getIndexInfosOfType(t));
  for (const [key, child] of Object.entries(value)) {
    const property = candidates.map((t) => checker.getPropertyOfType(t, key)).find(Boolean);
    if (property) {
      const decl = property.valueDeclaration ?? property.declarations?.[0];
      const childType = decl
        ? checker.getTypeOfSymbolAtLocation(property, decl)
        : checker.getTypeOfSymbol(property);
      walkType(checker, child, childType, `${path}.${key}`, out);
    } else if (index.length > 0) {
      walkType(checker, child, index[0]!.type, `${path}.${key}`, out);
    } else {
      out.push(`${path}.${key}: unknown field "${key}"`);
    }
  }
}

// ---- vendored CRD schemas (structural OpenAPI v3) ----

interface CrdSchema {
  type?: string;
  properties?: Record<string, CrdSchema>;
  additionalProperties?: CrdSchema | boolean;
  items?: CrdSchema;
  required?: string[];
  enum?: unknown[];
  minimum?: number;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
}

const crdCache = new Map<string, CrdSchema>();

function crdSchema(file: string, apiVersion: string): CrdSchema {
  const key = `${file}@${apiVersion}`;
  const cached = crdCache.get(key);
  if (cached) return cached;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const crd: any = parse(readFileSync(join(REPO_ROOT, 'tests/infra/crds', file), 'utf8'));
  const version = apiVersion.split('/')[1];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const served = crd.spec.versions.find((v: any) => v.name === version);
  if (!served) throw new Error(`${file} serves no version ${version}`);
  const schema = served.schema.openAPIV3Schema as CrdSchema;
  // metadata is validated by the API server's ObjectMeta rules, not the CRD's schema.
  schema.properties = {
    ...schema.properties,
    metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
  };
  crdCache.set(key, schema);
  return schema;
}

function typeOf(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function crdProblems(value: unknown, schema: CrdSchema, path: string, out: string[]): void {
  const at = path || '.';
  if (schema['x-kubernetes-int-or-string']) {
    if (typeof value !== 'string' && !Number.isInteger(value))
      out.push(`${at}: must be an integer or a string`);
    return;
  }
  const actual = typeOf(value);
  if (schema.type && actual !== schema.type && !(schema.type === 'number' && actual === 'integer')) {
    out.push(`${at}: must be ${schema.type}, is ${actual}`);
    return;
  }
  if (schema.enum && !schema.enum.includes(value))
    out.push(`${at}: must be one of ${schema.enum.join(', ')}`);
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum)
    out.push(`${at}: below ${schema.minimum}`);
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => crdProblems(item, schema.items!, `${path}[${i}]`, out));
    return;
  }
  if (actual !== 'object') return;
  const record = value as Record<string, unknown>;
  for (const name of schema.required ?? []) if (!(name in record)) out.push(`${path}.${name}: required`);
  if (schema['x-kubernetes-preserve-unknown-fields']) return;
  for (const [key, child] of Object.entries(record)) {
    const declared = schema.properties?.[key];
    if (declared) crdProblems(child, declared, `${path}.${key}`, out);
    else if (typeof schema.additionalProperties === 'object')
      crdProblems(child, schema.additionalProperties, `${path}.${key}`, out);
    else if (schema.additionalProperties !== true) out.push(`${path}.${key}: unknown field "${key}"`);
  }
}
