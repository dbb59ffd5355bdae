/**
 * The two autoscalers, as pure functions of time and metrics, so they can be checked without processes:
 * - KEDA ScaledObject + HPA (autoscaling/v2): KEDA activates 0 → 1 and deactivates to 0 after cooldownPeriod;
 *   between 1 and max the HPA computes ceil(metric / target) (AverageValue), applies the stabilisation
 *   windows (scale up to the lowest, down to the highest recommendation of the window) and the rate
 *   policies (selectPolicy over Pods/Percent changes within each policy's period), as
 *   kubernetes/pkg/controller/podautoscaler does.
 * - KEDA ScaledJob, `accurate` strategy: new Jobs = min(ceil(queue / target), max - running) - pending.
 */
import type { ScaledJobRules, ScaledObjectRules, ScalingRules } from './manifests.js';

/** HPA + KEDA state of one ScaledObject. Times are seconds on the (scaled) cluster clock. */
export class ScaledObjectController {
  private recommendations: { at: number; replicas: number }[] = [];
  private events: { at: number; change: number }[] = [];
  private lastActive = -Infinity;

  constructor(private readonly rules: ScaledObjectRules) {}

  /** KEDA's activation step (every pollingInterval): returns the replica count it sets, or undefined. */
  keda(now: number, current: number, metric: number): number | undefined {
    const active = metric > this.rules.activationTarget;
    if (active) this.lastActive = now;
    // KEDA's own changes are not HPA scale events: they do not count against the HPA's rate policies.
    if (current === 0 && active) return Math.max(this.rules.minReplicaCount, 1);
    if (
      current > 0 &&
      !active &&
      this.rules.minReplicaCount === 0 &&
      now - this.lastActive >= this.rules.cooldownPeriod
    ) {
      this.recommendations = [];
      this.events = [];
      return 0;
    }
    return undefined;
  }

  /** One HPA sync (every 15 s on a real cluster): returns the replica count it sets. Only while replicas > 0. */
  hpa(now: number, current: number, metric: number): number {
    const min = Math.max(this.rules.minReplicaCount, 1);
    let recommendation = Math.ceil(metric / this.rules.target);
    // The HPA's 10 % tolerance around the current size.
    if (current > 0 && Math.abs(metric / (this.rules.target * current) - 1) <= 0.1) recommendation = current;
    recommendation = Math.min(this.rules.maxReplicaCount, Math.max(min, recommendation));
    this.recommendations.push({ at: now, replicas: recommendation });
    const keep = Math.max(
      this.rules.scaleUp.stabilizationWindowSeconds,
      this.rules.scaleDown.stabilizationWindowSeconds,
    );
    this.recommendations = this.recommendations.filter((r) => now - r.at <= keep);
    let up = recommendation;
    let down = recommendation;
    for (const r of this.recommendations) {
      if (now - r.at <= this.rules.scaleUp.stabilizationWindowSeconds) up = Math.min(up, r.replicas);
      if (now - r.at <= this.rules.scaleDown.stabilizationWindowSeconds) down = Math.max(down, r.replicas);
    }
    let desired = current;
    if (current < up) desired = Math.min(up, this.limit(now, current, this.rules.scaleUp, 'up'));
    else if (current > down) desired = Math.max(down, this.limit(now, current, this.rules.scaleDown, 'down'));
    return this.record(now, current, Math.min(this.rules.maxReplicaCount, Math.max(min, desired)));
  }

  private limit(now: number, current: number, rules: ScalingRules, direction: 'up' | 'down'): number {
    if (rules.selectPolicy === 'Disabled') return current;
    if (rules.policies.length === 0) return direction === 'up' ? Infinity : 0;
    const limits = rules.policies.map((p) => {
      const recent = this.events.filter((e) => now - e.at < p.periodSeconds);
      const added = recent.filter((e) => e.change > 0).reduce((s, e) => s + e.change, 0);
      const removed = recent.filter((e) => e.change < 0).reduce((s, e) => s - e.change, 0);
      if (direction === 'up') {
        const start = current - added;
        return p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
      }
      const start = current + removed;
      return p.type === 'Pods' ? start - p.value : Math.ceil(start * (1 - p.value / 100));
    });
    // Max = the policy allowing the biggest change; Min = the smallest.
    const biggest = direction === 'up' ? Math.max(...limits) : Math.min(...limits);
    const smallest = direction === 'up' ? Math.min(...limits) : Math.max(...limits);
    return rules.selectPolicy === 'Max' ? biggest : smallest;
  }

  private record(now: number, current: number, next: number): number {
    if (next !== current) this.events.push({ at: now, change: next - current });
    return next;
  }
}

/** KEDA ScaledJob: how many Jobs to start now. `running`: Jobs not finished; `pending`: Jobs whose pod is not running yet. */
export function scaledJobsToStart(
  rules: ScaledJobRules,
  queue: number,
  running: number,
  pending: number,
): number {
  const maxScale = Math.min(Math.ceil(queue / rules.targetValue), rules.maxReplicaCount);
  let effective: number;
  if (rules.strategy === 'accurate') {
    effective =
      maxScale + running > rules.maxReplicaCount ? rules.maxReplicaCount - running : maxScale - pending;
  } else {
    // `default`: maxScale - running (assumes the metric counts running work too).
    effective = Math.min(maxScale - running, rules.maxReplicaCount - running);
  }
  if (running < rules.minReplicaCount) effective = Math.max(effective, rules.minReplicaCount - running);
  return Math.max(0, effective);
}
