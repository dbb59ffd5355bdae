/**
 * Offline schema validation with kubernetes-models: every rendered object must have a model for its
 * apiVersion/kind (a typo'd kind or an API version the cluster no longer serves fails) and pass it.
 * The models check types, required fields and enums; they do not reject unknown fields, which is what
 * the cross-field rules in rules.ts and the targeted tests are for.
 */
import type { K8sObject } from './kustomize.js';

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;
type ModelModule = Record<string, unknown>;

/** apiVersion → the kubernetes-models module that holds its kinds (core, built-in groups, CRDs). */
const MODULES: Record<string, () => Promise<ModelModule>> = {
  v1: () => import('kubernetes-models/v1'),
  'apps/v1': () => import('kubernetes-models/apps/v1'),
  'batch/v1': () => import('kubernetes-models/batch/v1'),
  'policy/v1': () => import('kubernetes-models/policy/v1'),
  'autoscaling/v2': () => import('kubernetes-models/autoscaling/v2'),
  'networking.k8s.io/v1': () => import('kubernetes-models/networking.k8s.io/v1'),
  'rbac.authorization.k8s.io/v1': () => import('kubernetes-models/rbac.authorization.k8s.io/v1'),
  'admissionregistration.k8s.io/v1': () => import('kubernetes-models/admissionregistration.k8s.io/v1'),
  'keda.sh/v1alpha1': () => import('@kubernetes-models/keda/keda.sh/v1alpha1'),
  'monitoring.coreos.com/v1': () => import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'),
};

/** Validate one object; returns a problem line, or undefined when the object is valid. */
export async function schemaProblem(object: K8sObject): Promise<string | undefined> {
  const where = `${object.kind}/${object.metadata?.name}`;
  const load = MODULES[object.apiVersion];
  if (!load) return `${where}: no schema for apiVersion ${object.apiVersion}`;
  const module = await load();
  const Model = module[object.kind] as ModelClass | undefined;
  if (typeof Model !== 'function') return `${where}: no schema for kind ${object.kind} in ${object.apiVersion}`;
  try {
    new Model(object).validate();
    return undefined;
  } catch (err) {
    return `${where}: ${err instanceof Error ? err.message : String(err)}`;
  }
}
