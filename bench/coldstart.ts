/**
 * `npm run bench:coldstart`: worker cold start, process start → first claim request, for the compiled
 * build (plain node, `--conditions=ocr-compiled`, what the image runs) and for the sources through tsx
 * (what `npm start` runs), tsx with an empty transpile cache (a fresh container) and with a warm one.
 *
 * The worker's API is a listener that records when the first `POST /v1/runs/claim` arrives and answers
 * nothing more: what is timed is everything the worker does before it can take work (loading modules,
 * parsing config, starting its ops server). Runs are interleaved so load drifts hit every variant alike.
 * Prints a table and rewrites the block between the coldstart markers in bench/NOTES.md and
 * bench/RESULTS.md (a full `npm run bench` appends NOTES.md, so the figures survive it).
 *
 *   npm run build && npm run bench:coldstart -- [--n 15]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spread } from './lib/stats.js';

const ROOT = resolve(import.meta.dirname, '..');
const OCR = join(ROOT, 'packages/cli/bin/ocr.js');
const BEGIN = '<!-- coldstart:begin -->';
const END = '<!-- coldstart:end -->';

interface Variant {
  name: string;
  nodeArgs: string[];
  /** A fresh TMPDIR per start: tsx keeps its transpile cache there. */
  freshTmp: boolean;
}

const VARIANTS: Variant[] = [
  {
    name: 'compiled (node --conditions=ocr-compiled, dist/)',
    nodeArgs: ['--conditions=ocr-compiled'],
    freshTmp: false,
  },
  { name: 'tsx, empty transpile cache (a fresh container)', nodeArgs: [], freshTmp: true },
  { name: 'tsx, warm transpile cache', nodeArgs: [], freshTmp: false },
];

/** A listener that resolves the pending start when a claim arrives. */
function claimProbe(): Promise<{ server: Server; port: number; next: () => Promise<number> }> {
  let arrived: ((at: number) => void) | undefined;
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url?.startsWith('/v1/runs/claim')) arrived?.(performance.now());
    // Never answer: the worker's claim stays pending until the process is stopped.
    req.resume();
    res.on('error', () => {});
  });
  return new Promise((ready) =>
    server.listen(0, '127.0.0.1', () =>
      ready({
        server,
        port: (server.address() as { port: number }).port,
        next: () => new Promise<number>((r) => (arrived = r)),
      }),
    ),
  );
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Sample {
  wallMs: number;
  cpuMs: number;
}

async function startOnce(variant: Variant, apiPort: number, next: () => Promise<number>): Promise<Sample> {
  const tmp = variant.freshTmp ? mkdtempSync(join(tmpdir(), 'ocr-coldstart-')) : undefined;
  const claimed = next();
  const started = performance.now();
  const child = spawn(process.execPath, [...variant.nodeArgs, OCR, 'worker'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH,
      ...(tmp ? { TMPDIR: tmp } : {}),
      OCR_API_URL: `http://127.0.0.1:${apiPort}`,
      OCR_TOKEN: 'coldstart',
      OCR_LANES: 'A',
      PORT: '0',
      OCR_LOG_LEVEL: 'warn',
    },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<never>((_, fail) =>
    child.on('exit', (code) =>
      fail(new Error(`worker exited ${code} before claiming: ${stderr.slice(-500)}`)),
    ),
  );
  try {
    const wallMs = (await Promise.race([claimed, exited])) - started;
    // Wall time on a shared machine is mostly waiting for a core; CPU time is what the start costs.
    return { wallMs, cpuMs: cpuSeconds(child.pid!) * 1000 };
  } finally {
    child.removeAllListeners('exit');
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode ? r(null) : child.once('exit', r)));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

function replaceBlock(path: string, block: string): void {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  const updated =
    start >= 0 && end > start
      ? text.slice(0, start) + block + text.slice(end + END.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, updated);
}

async function main(): Promise<void> {
  const n = Number(process.argv[process.argv.indexOf('--n') + 1]) || 15;
  if (!existsSync(join(ROOT, 'services/worker/dist/index.js')))
    throw new Error('no compiled build: run npm run build first');
  const probe = await claimProbe();
  const load = loadavg().map((l) => l.toFixed(2));
  const samples = new Map<string, Sample[]>(VARIANTS.map((v) => [v.name, []]));
  // One unmeasured start each: the page cache holds the files, as on a node that has pulled the image.
  for (const variant of VARIANTS) await startOnce(variant, probe.port, probe.next);
  for (let i = 0; i < n; i++)
    for (const variant of VARIANTS)
      samples.get(variant.name)!.push(await startOnce(variant, probe.port, probe.next));
  probe.server.close();
  const loadAfter = loadavg().map((l) => l.toFixed(2));

  const rows = VARIANTS.map((v) => {
    const wall = spread(samples.get(v.name)!.map((x) => x.wallMs));
    const cpu = spread(samples.get(v.name)!.map((x) => x.cpuMs));
    return `| ${v.name} | ${wall.median.toFixed(0)} ms (${wall.min.toFixed(0)}–${wall.max.toFixed(0)}) | ${cpu.median.toFixed(0)} ms (${cpu.min.toFixed(0)}–${cpu.max.toFixed(0)}) | ${n} |`;
  });
  const block = [
    BEGIN,
    '### Worker cold start (`npm run bench:coldstart`)',
    '',
    `Process start → first \`POST /v1/runs/claim\` at a listener standing in for the API; ${n} starts per`,
    'variant, interleaved, after one unmeasured start each (files in the page cache). Target: ≤ 1 s.',
    `Run ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, load average`,
    `${load.join(' / ')} before and ${loadAfter.join(' / ')} after (other engineers' test runs share the machine).`,
    '',
    'Wall time includes waiting for a core on a loaded machine; CPU time (user + system, from /proc, 10 ms',
    'ticks) is what the start itself costs and is the figure to compare with the target when the load is high.',
    '',
    '| variant | wall, median (min–max) | CPU, median (min–max) | n |',
    '| --- | --- | --- | --- |',
    ...rows,
    END,
  ].join('\n');
  process.stdout.write(`${block}\n`);
  replaceBlock(join(ROOT, 'bench/NOTES.md'), block);
  replaceBlock(join(ROOT, 'bench/RESULTS.md'), block);
}

main().catch((err: unknown) => {
  process.stderr.write(`[coldstart] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
