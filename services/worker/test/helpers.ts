import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { pino } from 'pino';
import type { Stack } from '@ocr/testkit';
import type { TestLike } from '@ocr/testkit';
import { createClientProtocol, loadWorkerConfig, Worker } from '../src/index.js';
import type { ExecutorRegistry } from '../src/executors/index.js';

/** A worker in this process, talking HTTP to the stack's API with a worker token. */
export async function startTestWorker(
  t: TestLike,
  stack: Stack,
  env: Record<string, string> = {},
  executors?: ExecutorRegistry,
): Promise<Worker> {
  const { token } = await stack.tokenFor('worker');
  const config = loadWorkerConfig({
    OCR_API_URL: stack.apiUrl,
    OCR_TOKEN: token,
    OCR_LANES: 'A',
    OCR_CONCURRENCY: '4',
    OCR_CLAIM_WAIT_MS: '2000',
    OCR_KILL_GRACE_S: '0.5',
    OCR_EVENT_FLUSH_MS: '50',
    OCR_WORKER_ID: `test-worker-${Math.random().toString(36).slice(2, 8)}`,
    ...env,
  });
  const worker = new Worker({ api: createClientProtocol({ baseUrl: stack.apiUrl, token }), config, log: pino({ level: process.env.OCR_TEST_LOG_LEVEL ?? 'silent' }), executors });
  worker.start();
  t.teardown(() => worker.drain(2000));
  return worker;
}

/** Resolve when the worker finishes the given run; returns how it ended. */
export async function finished(worker: Worker, runId: string): Promise<string> {
  for (;;) {
    const [id, end] = (await once(worker, 'run.finished')) as [string, string];
    if (id === runId) return end;
  }
}

/** Is a process alive? A zombie (dead, not yet reaped by a PID 1 that does not reap) counts as gone. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0) !== 'Z';
  } catch {
    return false;
  }
}
