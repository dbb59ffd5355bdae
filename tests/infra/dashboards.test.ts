// The Grafana dashboard and every alert rule speak PromQL that parses (the Prometheus project's own grammar,
// @prometheus-io/lezer-promql) and names only metrics that exist: the ones the API, worker and sweeper
// register (read from their real metric registries, so a renamed metric fails here), plus the few that
// postgres_exporter (components/postgres-metrics) exports.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { Registry } from 'prom-client';
import t from 'tap';
import { createApiMetrics } from '@ocr/api';
import { createSweeperMetrics } from '@ocr/sweeper';
import { createWorkerMetrics } from '@ocr/worker';
import { find, render, renderWithComponents, K8S_ROOT } from './kustomize.js';
import { allWorkloadProblems } from './rules.js';
import { schemaProblem } from './schemas.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** postgres_exporter's default collectors: the series the dashboard reads about PostgreSQL. */
const POSTGRES_EXPORTER = ['pg_up', 'pg_stat_database_numbackends', 'pg_settings_max_connections'];

/** Every series name the code exposes on /metrics (histograms as their _bucket, _sum and _count). */
async function exported(): Promise<Set<string>> {
  const sweeper = new Registry();
  createSweeperMetrics(sweeper, () => false);
  const names = new Set<string>();
  for (const registry of [createApiMetrics().registry, createWorkerMetrics().registry, sweeper]) {
    for (const metric of await registry.getMetricsAsJSON()) {
      if (String(metric.type) === 'histogram')
        for (const s of ['_bucket', '_sum', '_count']) names.add(metric.name + s);
      else names.add(metric.name);
    }
  }
  return names;
}

/** Problems of one expression: syntax errors, and metric names outside `known`. */
function exprProblems(expr: string, known: Set<string>): string[] {
  const problems: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError)
        problems.push(
          `syntax error at ${node.from}: ${JSON.stringify(expr.slice(Math.max(0, node.from - 10), node.to + 10))}`,
        );
      if (node.name === 'VectorSelector') {
        const id = node.node.getChild('Identifier');
        const name = id ? expr.slice(id.from, id.to) : undefined;
        if (name && !known.has(name)) problems.push(`unknown metric ${name}`);
      }
    },
  });
  return problems;
}

const dashboard: Any = JSON.parse(
  readFileSync(join(K8S_ROOT, 'components/monitoring/dashboards/ocr-overview.json'), 'utf8'),
);
const exprs = (): { where: string; expr: string }[] =>
  dashboard.panels.flatMap((p: Any) =>
    p.targets.map((target: Any) => ({ where: `${p.title} ${target.refId}`, expr: target.expr })),
  );

t.test('every dashboard and alert expression parses and uses exported metric names', async (t) => {
  const known = new Set([...(await exported()), ...POSTGRES_EXPORTER]);
  t.ok(
    known.has('ocr_lane_queue_depth') &&
      known.has('ocr_sweeper_leader') &&
      known.has('ocr_worker_claim_seconds_bucket'),
    `${known.size} names`,
  );
  for (const { where, expr } of exprs()) t.same(exprProblems(expr, known), [], `dashboard: ${where}`);
  const monitoring = renderWithComponents(['monitoring']);
  const rules = monitoring
    .filter((o) => o.kind === 'PrometheusRule')
    .flatMap((r: Any) => r.spec.groups.flatMap((g: Any) => g.rules));
  t.ok(rules.length >= 9, `${rules.length} alert rules`);
  for (const rule of rules) t.same(exprProblems(String(rule.expr), known), [], `alert ${rule.alert}`);
});

t.test('the checker bites: a misspelled metric and a syntax error are reported', async (t) => {
  const known = await exported();
  t.match(exprProblems('max by (lane) (ocr_lane_queue_dept)', known), ['unknown metric ocr_lane_queue_dept']);
  t.match(exprProblems('sum(rate(ocr_http_requests_total[5m])', known), [/syntax error/]);
  t.match(
    exprProblems('rate(ocr_sweeper_recovery_seconds[5m])', known),
    ['unknown metric ocr_sweeper_recovery_seconds'],
    'a histogram is read through its _bucket',
  );
});

t.test(
  'the dashboard covers what an operator watches, and ships as a Grafana sidecar config map',
  async (t) => {
    const used = exprs()
      .map((e) => e.expr)
      .join('\n');
    for (const metric of [
      'ocr_lane_queue_depth', // queue depth per lane
      'ocr_lane_oldest_wait_seconds', // oldest wait per lane
      'ocr_worker_claim_seconds_bucket', // claim latency
      'ocr_runs_finished_total', // run outcomes
      'ocr_sweeper_recovery_seconds_bucket', // recovery time
      'ocr_sweeper_stuck_runs_total', // stuck runs
      'ocr_sweeper_leader', // sweeper leadership
      'ocr_http_requests_total', // API error rate
      'ocr_http_request_duration_seconds_bucket', // API latency
      'ocr_ws_connections', // WebSocket connections
      'pg_stat_database_numbackends', // Postgres connections
    ]) {
      t.match(used, new RegExp(`\\b${metric}\\b`), metric);
    }
    const ids = dashboard.panels.map((p: Any) => p.id);
    t.same(ids, [...new Set(ids)], 'panel ids are unique');
    const map = find<Any>(renderWithComponents(['monitoring']), 'ConfigMap', 'ocr-grafana-dashboards');
    t.equal(map.metadata.labels.grafana_dashboard, '1');
    t.same(JSON.parse(map.data['ocr-overview.json']), dashboard, 'the rendered config map carries the file');
  },
);

t.test(
  'postgres-metrics: an exporter sidecar beside the overlay-run PostgreSQL, scraped by a PodMonitor',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ocr-pg-metrics-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'resources:',
        `  - ${relative(dir, join(K8S_ROOT, 'overlays/local'))}`,
        'components:',
        `  - ${relative(dir, join(K8S_ROOT, 'components/postgres-metrics'))}`,
        '',
      ].join('\n'),
    );
    const objects = render(dir);
    const pod = find<Any>(objects, 'StatefulSet', 'postgres').spec.template.spec;
    t.same(
      pod.containers.map((c: Any) => c.name).sort(),
      ['postgres', 'postgres-exporter'],
      'the server keeps its container; the exporter joins it',
    );
    const exporter = pod.containers.find((c: Any) => c.name === 'postgres-exporter');
    const monitor = find<Any>(objects, 'PodMonitor', 'postgres');
    t.equal(monitor.spec.podMetricsEndpoints[0].port, exporter.ports[0].name, 'scrapes the exporter port');
    t.same(monitor.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'postgres' });
    t.same(
      (await Promise.all(objects.map(schemaProblem))).filter(Boolean),
      [],
      'valid, unknown fields included',
    );
    t.same(allWorkloadProblems(objects), [], 'restricted like every workload');
  },
);
