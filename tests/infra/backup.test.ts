// components/backup: the nightly CronJob runs exactly the `ocr backup create` of the restore drill
// (tests/restore-drill.integration.test.ts), unprivileged, with only what it needs.
import t from 'tap';
import { find, renderWithComponents } from './kustomize.js';
import { resourceProblems, securityProblems, type PodOwner } from './rules.js';
import { DRILL } from '../helpers/restore-drill.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

t.test(
  'backup: a nightly ocr backup create to its own bucket, one at a time, restricted like every pod',
  async (t) => {
    const objects = renderWithComponents(['backup', 'network-policies']);
    const cron = find<Any>(objects, 'CronJob', 'ocr-backup');
    t.equal(cron.spec.concurrencyPolicy, 'Forbid', 'never two backups at once');
    t.match(cron.spec.schedule, /^\d+ \d+ \* \* \*$/, 'daily');
    const pod = cron.spec.jobTemplate.spec.template.spec;
    const container = pod.containers[0];
    t.same(container.command, ['/usr/bin/tini', '--', 'node', 'packages/cli/bin/ocr.js']);
    t.same(container.args, DRILL.backup, 'the command the restore drill backs up with');
    t.match(
      container.args[3],
      /^s3:\/\/[a-z0-9.-]+\/[\w/-]*\/$/,
      'a prefix: each backup gets a timestamped name',
    );
    const secretKeys = container.env
      .map((e: Any) => e.valueFrom?.secretKeyRef?.key)
      .filter(Boolean)
      .sort();
    t.same(secretKeys, ['database-url', 's3-access-key-id', 's3-secret-access-key']);
    const owner: PodOwner = { kind: 'CronJob', name: 'ocr-backup', spec: pod };
    t.same(
      [...securityProblems(owner), ...resourceProblems(owner)],
      [],
      'non-root, read-only root, no capabilities, sized',
    );
    t.equal(pod.automountServiceAccountToken, false);
    find(objects, 'ServiceAccount', 'ocr-backup');
    const database = find<Any>(objects, 'NetworkPolicy', 'allow-database');
    t.ok(
      database.spec.podSelector.matchExpressions[0].values.includes('ocr-backup'),
      'reaches the database under network policies',
    );
    const own = find<Any>(objects, 'NetworkPolicy', 'ocr-backup');
    t.ok(
      own.spec.egress.some((rule: Any) => rule.ports.some((p: Any) => p.port === 443)),
      'reaches object storage',
    );
  },
);
