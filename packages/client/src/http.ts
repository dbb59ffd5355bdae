import type { WebSocketFactory } from './stream.js';
import type { ErrorCode } from './types.js';

/**
 * An error answer from the API, with its machine-readable code: one of the catalogue's (docs/errors.md), or
 * `http_<status>` for an answer without the API's error body (a proxy's 502, say).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | `http_${number}`,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ClientOptions {
  /** Base URL of the API, e.g. `http://localhost:8080`. */
  baseUrl: string;
  token?: string;
  /** A fetch implementation (defaults to the global one: Node 20+ and browsers). */
  fetch?: typeof fetch;
  /** Per-request timeout in ms (long-poll claims add their wait to it). */
  timeoutMs?: number;
  /** The WebSocket for `follow` (defaults to the global one, else the `ws` package). */
  webSocket?: WebSocketFactory;
}

/** Is `err` an API error, and (when codes are given) one of these codes? Narrows `err.code`. */
export function isApiError<C extends ApiError['code']>(
  err: unknown,
  ...codes: C[]
): err is ApiError & { code: C } {
  return err instanceof ApiError && (codes.length === 0 || codes.includes(err.code as C));
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined | null>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Return the raw Response (exports, content). */
  raw?: boolean;
}

/** The transport every client method goes through: JSON in, JSON out, typed errors. */
export function createTransport(options: ClientOptions) {
  const base = options.baseUrl.replace(/\/$/, '');
  const doFetch = options.fetch ?? fetch;
  return async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(base + path);
    for (const [key, value] of Object.entries(opts.query ?? {}))
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? options.timeoutMs ?? 30_000);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const response = await doFetch(url, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal,
    });
    if (opts.raw && response.ok) return response as T;
    const text = await response.text();
    const data = text ? safeJson(text) : undefined;
    if (!response.ok) {
      const error = (data as { error?: { code?: string; message?: string; details?: unknown } } | undefined)
        ?.error;
      throw new ApiError(
        response.status,
        (error?.code as ErrorCode | undefined) ?? `http_${response.status}`,
        error?.message ?? response.statusText,
        error?.details,
      );
    }
    return data as T;
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
