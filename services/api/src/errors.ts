import { OcrError } from '@ocr/runtime';
import { ERROR_CODES, type ErrorCode } from '@ocr/contracts';

/** Throw from a handler: the one error handler turns it into `{"error":{code,message,details}}`. */
export function apiError(code: ErrorCode | 'resync_required', message: string, details?: unknown): OcrError {
  const status = (ERROR_CODES as Record<string, number>)[code] ?? 500;
  return new OcrError(code, message, status, details);
}

export const notFound = (what: string) => apiError('not_found', `${what} not found`);
/** Why a lease was found lost, as `diagnoseFence` tells it (absent: not diagnosed). */
export interface LostLease {
  why: string;
  status: string;
  attempt: number;
}

/**
 * A fenced write or read with a lease that is no longer current: the worker must stop at once. With the
 * diagnosis, the message and `details` say why (the run is no longer running, or a newer attempt holds it).
 */
export function leaseLost(runId: string, miss?: LostLease) {
  const why = !miss
    ? ''
    : miss.why === 'not_running'
      ? ` (the run is ${miss.status} now)`
      : ` (attempt ${miss.attempt} holds it now${miss.why === 'wrong_worker' ? ', on another worker' : ''})`;
  return apiError(
    'lease_lost',
    `the lease on run ${runId} is no longer yours${why}; stop and write nothing more`,
    miss ? { why: miss.why, status: miss.status, attempt: miss.attempt } : undefined,
  );
}
