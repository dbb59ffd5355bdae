/**
 * The autoscaling rules as deployed: render the production overlay with kustomize and read the ScaledObject,
 * the ScaledJob and the worker pod templates they drive. Nothing here is a copied constant: change a manifest
 * and the simulation follows.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const OVERLAY = fileURLToPath(new URL('../../infra/k8s/overlays/doks-production', import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** One HPA scaling direction: stabilisation window and rate policies (autoscaling/v2 `behavior`). */
export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: { type: 'Pods' | 'Percent'; value: number; periodSeconds: number }[];
}

/** A worker pod template: the environment the simulated pods get, and the kubelet's grace. */
export interface PodTemplate {
  env: Record<string, string>;
  terminationGracePeriodSeconds: number;
}

/** The Deployment-mode group: ScaledObject (KEDA) + HPA behaviour + the Deployment's pod template. */
export interface ScaledObjectRules {
  name: string;
  lanes: string[];
  minReplicaCount: number;
  maxReplicaCount: number;
  pollingInterval: number;
  cooldownPeriod: number;
  /** valueLocation (`lanes.A.depth`) of each trigger, summed by the scaling-modifier formula. */
  metrics: string[];
  target: number;
  activationTarget: number;
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
  pod: PodTemplate;
}

/** The job-mode group: ScaledJob (KEDA, accurate strategy) + its pod template. */
export interface ScaledJobRules {
  name: string;
  lanes: string[];
  pollingInterval: number;
  minReplicaCount: number;
  maxReplicaCount: number;
  strategy: string;
  metrics: string[];
  targetValue: number;
  pod: PodTemplate;
}

function podTemplate(spec: Any): PodTemplate {
  const worker = spec.containers.find((c: Any) => c.name === 'worker');
  const env: Record<string, string> = {};
  for (const e of worker.env ?? []) if (typeof e.value === 'string') env[e.name] = e.value;
  return { env, terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? 30 };
}

function rules(r: Any): ScalingRules {
  return {
    stabilizationWindowSeconds: r?.stabilizationWindowSeconds ?? 0,
    selectPolicy: r?.selectPolicy ?? 'Max',
    policies: r?.policies ?? [],
  };
}

/** Render the production overlay and extract both groups' rules. */
export function loadAutoscalingRules(): { deployment: ScaledObjectRules; job: ScaledJobRules } {
  const rendered = spawnSync('kubectl', ['kustomize', OVERLAY], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (rendered.status !== 0)
    throw new Error(`kubectl kustomize failed: ${rendered.stderr || rendered.error?.message}`);
  const objects = parseAllDocuments(rendered.stdout)
    .map((d) => d.toJS() as Any)
    .filter(Boolean);
  const one = (kind: string, pick: (o: Any) => boolean = () => true) => {
    const hits = objects.filter((o) => o.kind === kind && pick(o));
    if (hits.length !== 1)
      throw new Error(`expected one ${kind} in the production overlay, found ${hits.length}`);
    return hits[0];
  };
  const so = one('ScaledObject');
  const deployment = one('Deployment', (o) => o.metadata.name === so.spec.scaleTargetRef.name);
  const sj = one('ScaledJob');
  const modifiers = so.spec.advanced?.scalingModifiers;
  const behavior = so.spec.advanced?.horizontalPodAutoscalerConfig?.behavior ?? {};
  const deploymentPod = podTemplate(deployment.spec.template.spec);
  const jobPod = podTemplate(sj.spec.jobTargetRef.template.spec);
  // The formula must be a plain sum of trigger names: that is what the simulation evaluates.
  if ((modifiers.metricType ?? 'AverageValue') !== 'AverageValue')
    throw new Error(`metricType ${modifiers.metricType}: the simulation models AverageValue`);
  const names = String(modifiers.formula)
    .split('+')
    .map((s) => s.trim());
  const byName = new Map<string, string>(
    so.spec.triggers.map((tr: Any) => [tr.name, tr.metadata.valueLocation]),
  );
  if (names.some((n) => !byName.has(n)))
    throw new Error(`formula ${modifiers.formula} is not a sum of trigger names`);
  return {
    deployment: {
      name: deployment.metadata.name,
      lanes: deploymentPod.env.OCR_LANES!.split(','),
      minReplicaCount: so.spec.minReplicaCount ?? 0,
      maxReplicaCount: so.spec.maxReplicaCount ?? 100,
      pollingInterval: so.spec.pollingInterval ?? 30,
      cooldownPeriod: so.spec.cooldownPeriod ?? 300,
      metrics: names.map((n) => byName.get(n)!),
      target: Number(modifiers.target),
      activationTarget: Number(modifiers.activationTarget ?? 0),
      scaleUp: rules(behavior.scaleUp),
      scaleDown: rules(behavior.scaleDown),
      pod: deploymentPod,
    },
    job: {
      name: sj.metadata.name,
      lanes: jobPod.env.OCR_LANES!.split(','),
      pollingInterval: sj.spec.pollingInterval ?? 30,
      minReplicaCount: sj.spec.minReplicaCount ?? 0,
      maxReplicaCount: sj.spec.maxReplicaCount ?? 100,
      strategy: sj.spec.scalingStrategy?.strategy ?? 'default',
      metrics: sj.spec.triggers.map((tr: Any) => tr.metadata.valueLocation),
      targetValue: Number(sj.spec.triggers[0].metadata.targetValue),
      pod: jobPod,
    },
  };
}

/** Read `lanes.A.depth` out of the /v1/lanes/metrics answer; a lane the API does not know yet counts 0. */
export function metricValue(
  metrics: { lanes: Record<string, Record<string, number>> },
  location: string,
): number {
  const [, lane, field] = location.split('.');
  return metrics.lanes[lane!]?.[field!] ?? 0;
}
