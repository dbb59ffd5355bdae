import { Option, type Command } from '@commander-js/extra-typings';
import type { ListRunsParams, Run, RunDetail } from '@ocr/client';
import { CliError, EXIT } from '../exit-codes.js';
import { printJson, printTable } from '../output.js';
import { connection } from './client-commands.js';

const STATUSES = ['queued', 'scheduled', 'running', 'success', 'error', 'cancelled'] as const;
/** The API's largest page; a larger --limit pages on with the cursor. */
const PAGE = 200;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new CliError(`--limit ${value}: expected a positive integer`, EXIT.usage);
  return n;
}

/** `ocr runs list|get|cancel|retry`. */
export function registerRuns(program: Command): void {
  const runs = program
    .command('runs')
    .description('list, inspect, cancel and retry runs (OCR_API_URL, OCR_TOKEN)');

  runs
    .command('list')
    .description('runs, newest first')
    .option('--lane <lane>')
    .option('--template <name>')
    .addOption(new Option('--status <status>').choices(STATUSES))
    .option('--limit <n>', 'at most this many runs (default 50)', positiveInt)
    .option('--json', 'an array of runs as JSON')
    .action(async (opts) => {
      const { client } = connection();
      const want = opts.limit ?? 50;
      const found: Run[] = [];
      let cursor: string | undefined;
      do {
        const query: ListRunsParams = {
          limit: Math.min(PAGE, want - found.length),
          ...(opts.lane ? { lane: opts.lane } : {}),
          ...(opts.template ? { template: opts.template } : {}),
          ...(opts.status ? { status: opts.status } : {}),
          ...(cursor ? { cursor } : {}),
        };
        const page = await client.runs.list(query);
        found.push(...page.runs);
        cursor = page.next_cursor ?? undefined;
      } while (cursor && found.length < want);
      if (opts.json) return printJson(found);
      printTable(
        ['ID', 'TEMPLATE', 'LANE', 'STATUS', 'ATTEMPT', 'CREATED', 'FINISHED'],
        found.map((r) => [
          r.id,
          `${r.template} v${r.template_version}`,
          r.lane,
          r.status,
          `${r.attempt}/${r.max_attempts}`,
          r.created_at,
          r.finished_at,
        ]),
      );
    });

  runs
    .command('get')
    .description('a run with its steps')
    .argument('<id>')
    .option('--json', 'the API answer as JSON (run and steps)')
    .action(async (id, opts) => {
      const detail = await connection().client.runs.get(id);
      if (opts.json) return printJson(detail);
      printDetail(detail);
    });

  runs
    .command('cancel')
    .description('cancel a run (queued: at once; running: its worker stops it)')
    .argument('<id>')
    .option('--json', 'the run as JSON')
    .action(async (id, opts) => {
      const { run } = await connection().client.runs.cancel(id);
      if (opts.json) return printJson(run);
      process.stdout.write(
        run.status === 'cancelled'
          ? `run ${run.id}: cancelled\n`
          : `run ${run.id}: cancel requested (${run.status})\n`,
      );
    });

  runs
    .command('retry')
    .description('retry a failed or cancelled run as a new run')
    .argument('<id>')
    .option('--json', 'the new run as JSON')
    .action(async (id, opts) => {
      const { run } = await connection().client.runs.retry(id);
      if (opts.json) return printJson(run);
      process.stdout.write(`run ${run.id}: ${run.status} on lane ${run.lane} (retry of ${id})\n`);
    });
}

function printDetail({ run, steps }: RunDetail): void {
  const fields: [string, unknown][] = [
    ['id', run.id],
    ['template', `${run.template} v${run.template_version}`],
    ['lane', run.lane],
    ['status', run.status + (run.wait_reason ? ` (${run.wait_reason})` : '')],
    ['attempt', `${run.attempt}/${run.max_attempts}`],
    ['created', run.created_at],
    ['started', run.started_at],
    ['finished', run.finished_at],
    ['worker', run.worker_id],
    ['retry of', run.retry_of],
    ['error', run.error ? `${run.error.code}: ${run.error.message}` : null],
  ];
  for (const [key, value] of fields)
    if (value !== null && value !== undefined)
      process.stdout.write(`${`${key}:`.padEnd(10)} ${String(value)}\n`);
  if (steps.length === 0) return;
  process.stdout.write('\n');
  printTable(
    ['STEP', 'KIND', 'ATTEMPT', 'STATUS', 'EXIT', 'STARTED', 'FINISHED'],
    steps.map((s) => [s.name, s.kind, s.attempt, s.status, s.exit_code, s.started_at, s.finished_at]),
  );
}
