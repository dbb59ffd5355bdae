// The simulation's autoscalers against hand-worked cases of the KEDA and HPA algorithms, and its rule
// loader against the rendered production overlay.
import t from 'tap';
import { ScaledObjectController, scaledJobsToStart } from '../../bench/autoscale/autoscalers.js';
import {
  loadAutoscalingRules,
  type ScaledJobRules,
  type ScaledObjectRules,
} from '../../bench/autoscale/manifests.js';
import { scaleDownVictims, type Pod } from '../../bench/autoscale/fleet.js';

const so: ScaledObjectRules = {
  name: 'w',
  lanes: ['A'],
  minReplicaCount: 0,
  maxReplicaCount: 20,
  pollingInterval: 10,
  cooldownPeriod: 300,
  metrics: ['lanes.A.depth'],
  target: 4,
  activationTarget: 0,
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Percent', value: 100, periodSeconds: 15 },
      { type: 'Pods', value: 4, periodSeconds: 15 },
    ],
  },
  scaleDown: {
    stabilizationWindowSeconds: 300,
    selectPolicy: 'Min',
    policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
  },
  pod: { env: {}, terminationGracePeriodSeconds: 45 },
};

t.test(
  'ScaledObject: activation, rate-limited scale-up, windowed scale-down, cooldown to zero',
  async (t) => {
    const c = new ScaledObjectController(so);
    t.equal(c.keda(0, 0, 0), undefined, 'idle at zero stays at zero');
    t.equal(c.keda(10, 0, 64), 1, 'activation: 0 → 1');
    t.equal(c.hpa(10, 1, 64), 5, 'wants 16; +4 pods beats +100 %');
    t.equal(c.hpa(25, 5, 64), 10, 'next period: +100 % (10) beats +4 (9)');
    t.equal(c.hpa(40, 10, 64), 16, 'reaches the recommendation');
    t.equal(c.hpa(55, 16, 8), 16, 'load drops: the 300 s window keeps the peak');
    t.equal(c.hpa(340, 16, 8), 16, 'still inside the window (peak at 40 s)');
    t.equal(c.hpa(355, 16, 8), 15, 'window passed: one pod');
    t.equal(c.hpa(370, 15, 8), 15, 'then one pod per 60 s');
    t.equal(c.hpa(415, 15, 8), 14);
    t.equal(c.hpa(430, 14, 14), 14, 'inside the 10 % tolerance nothing moves');
    t.equal(c.keda(430, 14, 14), undefined);
    t.equal(c.keda(700, 14, 0), undefined, 'inactive for 270 s: cooldown not over');
    t.equal(c.keda(730, 14, 0), 0, 'inactive for 300 s: KEDA scales to zero');
  },
);

t.test('ScaledJob accurate: queued minus pending, capped by max minus running', async (t) => {
  const sj: ScaledJobRules = {
    name: 'j',
    lanes: ['long'],
    pollingInterval: 10,
    minReplicaCount: 0,
    maxReplicaCount: 20,
    strategy: 'accurate',
    metrics: [],
    targetValue: 1,
    pod: so.pod,
  };
  t.equal(scaledJobsToStart(sj, 5, 0, 0), 5, 'a Job per queued run');
  t.equal(scaledJobsToStart(sj, 5, 5, 5), 0, 'their pods are still pending: nothing more');
  t.equal(
    scaledJobsToStart(sj, 2, 6, 0),
    2,
    'running Jobs do not hold back new ones (claimed runs left the queue)',
  );
  t.equal(scaledJobsToStart(sj, 30, 15, 0), 5, 'never more than maxReplicaCount Jobs');
  t.equal(scaledJobsToStart(sj, 0, 3, 0), 0, 'nothing queued: nothing started, nothing stopped');
  t.equal(scaledJobsToStart({ ...sj, targetValue: 2 }, 5, 0, 0), 3, 'ceil(queue / target)');
});

t.test(
  'ReplicaSet victims: not ready first, then the most recently ready; busy or not is invisible',
  async (t) => {
    const pod = (name: string, createdAt: number, readyAt?: number) => ({ name, createdAt, readyAt }) as Pod;
    const pods = [pod('old', 1, 2), pod('young', 5, 6), pod('starting', 7), pod('mid', 3, 4)];
    t.same(
      scaleDownVictims(pods, 3).map((p) => p.name),
      ['starting', 'young', 'mid'],
    );
  },
);

t.test('the rules come from the rendered production overlay', async (t) => {
  const { deployment, job } = loadAutoscalingRules();
  t.ok(deployment.metrics.length >= 2 && deployment.target > 0, 'ScaledObject triggers and target');
  t.equal(String(deployment.target), deployment.pod.env.OCR_CONCURRENCY, 'one pod per OCR_CONCURRENCY runs');
  t.ok(
    job.metrics.every((m) => m.endsWith('.depth')),
    'ScaledJob counts queued runs only',
  );
  t.same(
    deployment.lanes.filter((l) => job.lanes.includes(l)),
    [],
    'no lane in both groups',
  );
  t.ok(Number(deployment.pod.env.OCR_SHUTDOWN_GRACE_S) + 5 < deployment.pod.terminationGracePeriodSeconds);
});
