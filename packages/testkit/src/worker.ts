import { once } from 'node:events';
import { pino } from 'pino';
import { createClientProtocol, loadWorkerConfig, Worker, type ExecutorRegistry } from '@ocr/worker';
import type { TestLike } from './database.js';
import type { Stack } from './stack.js';

/** A worker in this process, talking HTTP to the stack's API with a worker token (lane A, fast timings). */
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
  const worker = new Worker({
    api: createClientProtocol({ baseUrl: stack.apiUrl, token }),
    config,
    log: pino({ level: process.env.OCR_TEST_LOG_LEVEL ?? 'silent' }),
    executors,
  });
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
