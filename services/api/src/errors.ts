import { OcrError } from '@ocr/runtime';
import { ERROR_CODES, type ErrorCode } from '@ocr/contracts';

/** Throw from a handler: the one error handler turns it into `{"error":{code,message,details}}`. */
export function apiError(code: ErrorCode | 'resync_required', message: string, details?: unknown): OcrError {
  const status = (ERROR_CODES as Record<string, number>)[code] ?? 500;
  return new OcrError(code, message, status, details);
}

export const notFound = (what: string) => apiError('not_found', `${what} not found`);
/** A fenced write or read with a lease that is no longer current: the worker must stop at once. */
export const leaseLost = (runId: string) =>
  apiError('lease_lost', `the lease on run ${runId} is no longer yours; stop and write nothing more`);
