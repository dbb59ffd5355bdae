import { ApiError } from '@ocr/client';

/**
 * The exit codes of the `ocr` client commands (documented in docs/operator.md): stable, so scripts and CI
 * can tell a bad input from a refusal, a missing object, a lost race and an outage.
 */
export const EXIT = {
  ok: 0,
  /** Bad usage, configuration or input (an invalid template file): nothing was sent that changes anything. */
  usage: 1,
  /** The API refused the request (401, 403, 400 and other 4xx not listed below). */
  refused: 2,
  /** 404: the run or template does not exist (or the token may not see it). */
  notFound: 3,
  /** 409: the state does not allow it (cancel a finished run, retry a successful one, create an existing name). */
  conflict: 4,
  /** The API answered 5xx, or could not be reached / timed out. */
  unavailable: 5,
  /** `templates apply --dry-run --exit-code`: the files differ from the server. */
  changes: 10,
} as const;

/** An error whose lines were already printed, or that carries its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The exit code for an error thrown by a command. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof ApiError) {
    if (err.status === 404) return EXIT.notFound;
    if (err.status === 409) return EXIT.conflict;
    if (err.status >= 500) return EXIT.unavailable;
    if (err.status >= 400) return EXIT.refused;
    return EXIT.unavailable;
  }
  // fetch's network failures (refused, reset, DNS) are TypeErrors; a request timeout is a TimeoutError.
  if (err instanceof TypeError && err.message === 'fetch failed') return EXIT.unavailable;
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return EXIT.unavailable;
  return EXIT.usage;
}

/** The one line `ocr` prints for an error. */
export function errorLine(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}`;
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return `cannot reach the API (${cause?.code ?? cause?.message ?? 'network error'}); check OCR_API_URL`;
  }
  if (err instanceof Error && err.name === 'TimeoutError') return 'the API did not answer in time';
  return err instanceof Error ? err.message : String(err);
}
