/** This product's own Spec Kit is valid, fully traced, and its state machine names every status and transition. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import t from 'tap';
import { readSpecKitDir, validateSpecKit } from '../src/index.js';

const SPEC = resolve(import.meta.dirname, '../../../spec');

t.test('spec/ops-control-room validates with no problems at all', async (t) => {
  const report = validateSpecKit(
    await readSpecKitDir(resolve(SPEC, 'ops-control-room')),
    'spec/ops-control-room',
  );
  t.same(report.problems, [], 'no errors and no warnings');
  t.equal(report.valid, true);
  t.ok(report.summary.requirements >= 10, `${report.summary.requirements} requirements`);
  t.equal(report.summary.traced_requirements, report.summary.requirements, 'every requirement traced');
  t.ok(
    report.tasks.some((task) => task.status === 'in_progress'),
    'work under way is marked in progress',
  );
  t.ok(
    report.tasks.filter((task) => task.id.startsWith('T4.')).every((task) => task.status === 'in_progress'),
    'the console is in progress',
  );
});

t.test('spec/state-machine.md draws every status and every transition', async (t) => {
  const doc = await readFile(resolve(SPEC, 'state-machine.md'), 'utf8');
  const diagram = /```mermaid\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  t.match(diagram, /^stateDiagram-v2/);
  for (const status of ['queued', 'running', 'success', 'error', 'cancelled'])
    t.match(diagram, new RegExp(`\\b${status}\\b`), status);
  for (const transition of [
    'claim',
    'heartbeat',
    'complete',
    'backoff',
    'release',
    'cancel',
    'sweep requeue',
    'heartbeat_timeout',
    'retry',
  ]) {
    t.ok(diagram.includes(transition), `transition: ${transition}`);
  }
  for (const check of [
    'runs_lease_iff_running',
    'runs_finished_iff_terminal',
    'runs_claimed_before_running',
    'runs_cancel_flag_has_time',
  ]) {
    t.ok(doc.includes(check), `invariant: ${check}`);
  }
});
