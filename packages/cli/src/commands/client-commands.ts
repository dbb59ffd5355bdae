import type { Command } from '@commander-js/extra-typings';
import WebSocket from 'ws';
import { createClient, Stream, type OcrClient, type StreamEvent, type WebSocketLike } from '@ocr/client';

/** The API client from OCR_API_URL and OCR_TOKEN (or OCR_ADMIN_TOKEN). */
export function connection(): { client: OcrClient; baseUrl: string; token: string } {
  const baseUrl = process.env.OCR_API_URL || 'http://localhost:8080';
  const token = process.env.OCR_TOKEN || process.env.OCR_ADMIN_TOKEN;
  if (!token) throw new Error('OCR_TOKEN: is required (a token for the API at OCR_API_URL)');
  return { client: createClient({ baseUrl, token }), baseUrl, token };
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

function formatEvent(
  e:
    | StreamEvent
    | { seq: number; ts: string; level: string; type: string; step: string | null; message: string },
): string {
  return `${e.ts.slice(11, 23)} ${e.level.padEnd(5)} ${e.step ? `[${e.step}] ` : ''}${e.type === 'log' ? '' : `${e.type}: `}${e.message}`;
}

const TERMINAL = new Set(['success', 'error', 'cancelled']);

/** Follow a run's events live until it finishes; resolves with its final status. */
async function follow(
  client: OcrClient,
  baseUrl: string,
  token: string,
  runId: string,
  show: (event: StreamEvent) => string = formatEvent,
): Promise<string> {
  return new Promise((resolve) => {
    const stream = new Stream({
      baseUrl,
      token,
      webSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
    });
    const check = async () => {
      const { run } = await client.runs.get(runId);
      if (TERMINAL.has(run.status)) {
        setTimeout(() => {
          stream.close();
          resolve(run.status);
        }, 300);
      }
    };
    stream.subscribeRun(runId, 0, (event) => {
      process.stdout.write(show(event) + '\n');
      if (event.type === 'status' || event.type === 'cancel.confirmed') void check();
    });
    void check();
  });
}

/** Commands that talk to a running API: tokens, run, logs (templates and runs have their own modules). */
export function registerClientCommands(program: Command): void {
  const tokens = program.command('tokens').description('manage API tokens (admin; OCR_API_URL, OCR_TOKEN)');
  tokens
    .command('create')
    .requiredOption('--name <name>', 'a name for the token')
    .requiredOption('--role <role>', 'admin | operator | viewer | worker')
    .option('--lanes <lanes>', 'comma-separated: the only lanes the token may touch (default: all)')
    .option('--templates <names>', 'comma-separated: the only templates the token may touch (default: all)')
    .action(async (opts) => {
      const { client } = connection();
      const list = (value: string | undefined) =>
        value === undefined
          ? undefined
          : value
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean);
      print(
        await client.tokens.create({
          name: opts.name,
          role: opts.role as 'admin',
          lanes: list(opts.lanes),
          templates: list(opts.templates),
        }),
      );
    });
  tokens.command('list').action(async () => print((await connection().client.tokens.list()).tokens));
  tokens
    .command('revoke')
    .argument('<id>')
    .action(async (id) => print(await connection().client.tokens.revoke(id)));

  program
    .command('run')
    .description('start a run of a template')
    .argument('<template>')
    .option('-p, --param <key=value...>', 'a param (JSON values are parsed: -p count=3)', [])
    .option('--lane <lane>')
    .option('--priority <n>')
    .option('--follow', 'stream its events until it finishes; exit non-zero unless it succeeds')
    .action(async (template, opts) => {
      const { client, baseUrl, token } = connection();
      const params: Record<string, unknown> = {};
      for (const pair of opts.param as string[]) {
        const at = pair.indexOf('=');
        if (at < 1) throw new Error(`--param ${pair}: expected key=value`);
        const raw = pair.slice(at + 1);
        try {
          params[pair.slice(0, at)] = JSON.parse(raw);
        } catch {
          params[pair.slice(0, at)] = raw;
        }
      }
      const { run } = await client.runs.create({
        template,
        params,
        ...(opts.lane ? { lane: opts.lane } : {}),
        ...(opts.priority ? { priority: Number(opts.priority) } : {}),
      });
      if (!opts.follow) return print(run);
      process.stderr.write(`run ${run.id} queued on lane ${run.lane}\n`);
      const status = await follow(client, baseUrl, token, run.id);
      process.stderr.write(`run ${run.id}: ${status}\n`);
      process.exitCode = status === 'success' ? 0 : 1;
    });

  program
    .command('logs')
    .description("print a run's events")
    .argument('<run>')
    .option('--follow', 'keep streaming until the run finishes')
    .option('--json', 'one JSON event per line (NDJSON), as the API sends them')
    .action(async (runId, opts) => {
      const { client, baseUrl, token } = connection();
      const show = opts.json ? (e: unknown) => JSON.stringify(e) : formatEvent;
      if (opts.follow) {
        await follow(client, baseUrl, token, runId, show);
        return;
      }
      for (let after = 0; ;) {
        const { events } = await client.runs.events(runId, { after_seq: after, limit: 5000 });
        for (const e of events) process.stdout.write(show(e) + '\n');
        if (events.length < 5000) break;
        after = events[events.length - 1]!.seq;
      }
    });
}
