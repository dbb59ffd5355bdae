import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createDatabase, databaseUrl } from '@ocr/db';
import { track } from '../lib/children.js';

const SCRATCH = fileURLToPath(new URL('../.scratch/peers', import.meta.url));
const PEERS = { 'graphile-worker': 'graphile-worker@0.17', 'pg-boss': 'pg-boss@10' } as const;
export type Peer = keyof typeof PEERS;

/** Install the peers into a scratch folder (they are not dependencies of the product). */
export async function installPeers(): Promise<boolean> {
  if (Object.keys(PEERS).every((name) => existsSync(join(SCRATCH, 'node_modules', name)))) return true;
  await mkdir(SCRATCH, { recursive: true });
  try {
    await promisify(execFile)(
      'npm',
      ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', SCRATCH, ...Object.values(PEERS), 'pg'],
      { timeout: 300_000 },
    );
    return true;
  } catch (err) {
    process.stderr.write(`peers not installed: ${(err as Error).message.split('\n')[0]}\n`);
    return false;
  }
}

/** A peer's figures: jobs/s drained (all enqueued first) and while enqueueing, and latency (ms). */
export interface PeerResult {
  drain: number;
  concurrent: number;
  throughput: number;
  p50: number;
  p99: number;
}

/** Run one peer against its own fresh database on the same server. */
export async function runPeer(
  peer: Peer,
  serverUrl: string,
  jobs: number,
  latencyJobs: number,
  drainJobs: number = jobs,
): Promise<PeerResult> {
  const database = `peer_${peer.replace(/-/g, '_')}_${Date.now()}`;
  await createDatabase(serverUrl, database);
  const url = databaseUrl(serverUrl, database);
  const child = track(
    spawn(process.execPath, [fileURLToPath(new URL(`./${peer}.mjs`, import.meta.url))], {
      env: {
        ...process.env,
        PEER_DIR: join(SCRATCH, 'node_modules'),
        DATABASE_URL: url.toString(),
        JOBS: String(jobs),
        DRAIN_JOBS: String(drainJobs),
        LATENCY_JOBS: String(latencyJobs),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  // The peers log to stdout too (graphile-worker: "[core] INFO: ..."); the result is the line of JSON.
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      if (text.startsWith('{')) resolve(text);
      else if (process.env.BENCH_LOGS) process.stderr.write(`[${peer}] ${text}\n`);
    });
    child.once('exit', (code) => reject(new Error(`${peer} exited with ${code} before printing its result`)));
  });
  return JSON.parse(line);
}
