/**
 * The one error base of Ops Control Room. Every error that crosses a boundary (HTTP, worker protocol,
 * CLI) carries a stable snake_case `code`, the HTTP status it maps to, and optional `details`.
 */
export class OcrError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 500,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OcrError';
  }
}

/** Configuration that cannot start a process; `problems` has one line per bad variable. */
export class ConfigError extends OcrError {
  constructor(readonly problems: string[]) {
    super(
      'invalid_config',
      `invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      500,
      problems,
    );
    this.name = 'ConfigError';
  }
}

/** True when `err` is an OcrError with the given code. */
export function isOcrError(err: unknown, code?: string): err is OcrError {
  return err instanceof OcrError && (code === undefined || err.code === code);
}
