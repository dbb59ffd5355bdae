/**
 * `http`: one request with undici. Placeholders render as URL-encoded text in the URL, plain text in
 * headers and JSON values in the body. Redirects are followed by hand (at most 5), each hop checked by the
 * SSRF guard before it goes out and again at connect time. The response body streams into `body` log
 * lines (head-and-tail truncated like any output), and the whole exchange is recorded as an
 * `http.response` event and a JSON artifact. Statuses outside `expect_status` (any 2xx by default) fail.
 */
import { request, type Dispatcher } from 'undici';
import { sanitizeJson } from '@ocr/contracts';
import { OutputFramer } from '../output/index.js';
import { renderJson, renderText, renderUrl } from '../params/index.js';
import { defineExecutor, withoutWorkdir } from './define-executor.js';
import { checkUrl, createGuardedAgent, guardRefusal, type GuardPolicy } from './http-guard.js';
import { HttpStep } from './step-schemas.js';
import { ExecutorError, stepResult, type StepContext, type StepExecutor } from './types.js';

/** Worker-wide settings of the http executor. */
export interface HttpExecutorOptions {
  /** Allow private addresses for every step (a dev stack on loopback). Default false. */
  allowPrivate?: boolean;
  /** May a step's `allow_private: true` lift the refusal? Default false: the worker must opt in (OCR_HTTP_STEPS_MAY_ALLOW_PRIVATE). */
  stepsMayAllowPrivate?: boolean;
  /** Response bytes kept for the artifact and output (default 1 MiB); the rest is not read. */
  maxBodyBytes?: number;
  /** Redirect hops followed (default 5). */
  maxRedirects?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/**
 * Request headers that say nothing secret: the only ones that follow a redirect to another origin, and the
 * only request header values the response artifact records (others show as `[redacted]`: any custom header
 * may carry a credential, `x-api-key`, `x-auth-token`, `private-token`…).
 */
const SAFE_HEADERS = new Set([
  'accept',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'content-language',
  'content-type',
  'pragma',
  'user-agent',
]);
const REDACTED_RESPONSE = new Set(['set-cookie', 'authorization', 'proxy-authenticate', 'www-authenticate']);

/** An http executor with the SSRF guard. */
export function createHttpExecutor(options: HttpExecutorOptions = {}): StepExecutor {
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const maxRedirects = options.maxRedirects ?? 5;
  // No working directory: a response is recorded in memory, never written to a file.
  const executor = defineExecutor('http', HttpStep, async (step, ctx, stop) => {
    const policy: GuardPolicy = {
      allowPrivate:
        options.allowPrivate === true ||
        (step.allow_private === true && options.stepsMayAllowPrivate === true),
      ...(step.allow_hosts ? { allowHosts: step.allow_hosts } : {}),
    };
    const secrets = ctx.secrets ?? {};
    let url = parseUrl(renderUrl(step.url, ctx.params, secrets));
    let method: string = step.method ?? 'GET';
    let headers = renderHeaders(step.headers, ctx.params, secrets);
    let body = renderBody(step.body, ctx.params, headers, secrets);
    const expected = step.expect_status;
    const agent = createGuardedAgent(policy.allowPrivate);
    let settled = false;
    stop.escalateWith({
      gentle: { message: 'request aborted', data: { url: url.href }, run: () => undefined },
      force: { message: 'connections destroyed', run: () => agent.destroy() },
      finished: () => settled,
    });
    const redirects: { status: number; location: string }[] = [];
    const started = Date.now();
    try {
      for (;;) {
        checkUrl(url, policy);
        ctx.emit({
          level: 'info',
          type: 'http.request',
          message: `${method} ${url.href}`,
          data: { method, url: url.href },
        });
        const response = await send(agent, url, method, headers, body, stop.signal);
        const location = response.headers.location;
        if (
          REDIRECTS.has(response.statusCode) &&
          typeof location === 'string' &&
          step.follow_redirects !== false
        ) {
          await response.body.dump();
          const next = new URL(location, url);
          redirects.push({ status: response.statusCode, location: next.href });
          if (redirects.length > maxRedirects)
            throw new ExecutorError(
              'too_many_redirects',
              `more than ${maxRedirects} redirects (last to ${next.href})`,
            );
          ctx.emit({
            level: 'info',
            type: 'http.redirect',
            message: `${response.statusCode} → ${next.href}`,
            data: { status: response.statusCode, location: next.href },
          });
          if (
            response.statusCode === 303 ||
            ((response.statusCode === 301 || response.statusCode === 302) && method === 'POST')
          ) {
            if (method !== 'HEAD') method = 'GET';
            body = undefined;
            headers = withoutHeaders(headers, ['content-type', 'content-length']);
          }
          if (next.origin !== url.origin)
            headers = Object.fromEntries(Object.entries(headers).filter(([name]) => SAFE_HEADERS.has(name)));
          url = next;
          continue;
        }
        const read = await readBody(response, ctx, maxBody);
        const record = {
          request: {
            method,
            url: url.href,
            headers: Object.fromEntries(
              Object.entries(headers).map(([name, value]) => [
                name,
                SAFE_HEADERS.has(name) ? value : '[redacted]',
              ]),
            ),
          },
          redirects,
          response: {
            status: response.statusCode,
            headers: redact(response.headers),
            body: read.value,
            body_bytes: read.bytes,
            body_truncated: read.truncated,
          },
          duration_ms: Date.now() - started,
        };
        ctx.emit({
          level: 'info',
          type: 'http.response',
          message: `${response.statusCode} from ${method} ${url.href} in ${record.duration_ms} ms`,
          data: {
            status: response.statusCode,
            url: url.href,
            duration_ms: record.duration_ms,
            body_bytes: read.bytes,
            body_truncated: read.truncated,
            content_type: response.headers['content-type'] ?? null,
          },
        });
        ctx.addArtifact({
          name: `${ctx.stepName}.response.json`,
          kind: 'json',
          content_type: 'application/json',
          content: JSON.stringify(record, null, 2),
        });
        const ok = expected
          ? expected.includes(response.statusCode)
          : response.statusCode >= 200 && response.statusCode < 300;
        if (!ok)
          return stepResult.failed(
            'unexpected_status',
            `HTTP ${response.statusCode} from ${url.href}; expected ${expected ? expected.join(', ') : '2xx'}`,
          );
        const small = read.json !== undefined && read.bytes <= 64 * 1024;
        return stepResult.succeeded({ status: response.statusCode, ...(small ? { body: read.json } : {}) });
      }
    } catch (err) {
      const refusal = guardRefusal(err);
      if (refusal) throw refusal;
      if (err instanceof ExecutorError || stop.reason) throw err;
      throw new ExecutorError('request_failed', `${method} ${url.href} failed: ${describe(err)}`, {
        cause: err,
      });
    } finally {
      settled = true;
      await agent.destroy().catch(() => undefined);
    }
  });
  return withoutWorkdir(executor);
}

function send(
  agent: Dispatcher,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
) {
  return request(url, {
    dispatcher: agent,
    method: method as Dispatcher.HttpMethod,
    headers,
    ...(body !== undefined ? { body } : {}),
    signal,
  });
}

/** Read up to `max` bytes, framing them into `body` log lines; a longer body is cut off, not read on. */
async function readBody(response: Dispatcher.ResponseData, ctx: StepContext, max: number) {
  const framer = new OutputFramer(ctx.emit, ctx.output);
  const chunks: Buffer[] = [];
  let bytes = 0;
  let truncated = false;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    const room = max - bytes;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    chunks.push(kept);
    framer.write('body', kept);
    bytes += kept.length;
    if (chunk.length > room) {
      truncated = true;
      response.body.destroy();
      break;
    }
  }
  framer.end();
  const text = Buffer.concat(chunks).toString('utf8');
  const type = String(response.headers['content-type'] ?? '');
  let json: unknown;
  if (!truncated && /[/+]json\b/i.test(type)) {
    try {
      // Bounded in depth (and cleaned): a body nested thousands of levels deep parses, but no
      // JSON.stringify (artifact, output, completion) could serialise it again.
      json = sanitizeJson(JSON.parse(text));
    } catch {
      json = undefined;
    }
  }
  return { value: json ?? text, json, bytes, truncated };
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new ExecutorError('invalid_url', `not a valid URL: ${text}`);
  }
}

function renderHeaders(
  headers: Record<string, string> | undefined,
  params: Record<string, unknown>,
  secrets: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const rendered = renderText(value, params, secrets);
    // A param must not be able to end the header and start another one.
    if (/[\r\n\0]/.test(rendered))
      throw new ExecutorError('invalid_header', `header ${name} would contain a line break`);
    out[name.toLowerCase()] = rendered;
  }
  return out;
}

/** A string body as text; any other JSON value as JSON (with a content type unless one is set). */
function renderBody(
  body: unknown,
  params: Record<string, unknown>,
  headers: Record<string, string>,
  secrets: Record<string, string>,
): string | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string') return renderText(body, params, secrets);
  headers['content-type'] ??= 'application/json';
  return JSON.stringify(renderJson(body, params, secrets));
}

function withoutHeaders(headers: Record<string, string>, names: string[]): Record<string, string> {
  const drop = new Set(names);
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !drop.has(name)));
}

function redact(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      REDACTED_RESPONSE.has(name.toLowerCase()) ? '[redacted]' : value,
    ]),
  );
}

function describe(err: unknown): string {
  const e = err as { message?: string; code?: string; cause?: { message?: string; code?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return [e.code, e.message, cause && cause !== e.message ? `(${cause})` : undefined]
    .filter(Boolean)
    .join(' ');
}
