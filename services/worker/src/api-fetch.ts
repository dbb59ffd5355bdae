/**
 * The worker's requests to the API go through undici's `request`, not `fetch`: the protocol is small JSON
 * bodies both ways, and `fetch` wraps every body in web streams (a request body pumped through an async
 * iterator, a response body teed and decoded chunk by chunk), which cost a busy worker more CPU than the
 * JSON itself. Same connection behaviour as the global `fetch` (its default keep-alive agent), same
 * timeouts and aborts (the transport's signal), no redirects (the API answers none).
 *
 * Only what the client's JSON transport reads is answered: status, statusText and the whole body as text.
 * Calls that want the raw `Response` (exports, artifact content) are not worker protocol and do not
 * come through here.
 */
import { STATUS_CODES } from 'node:http';
import { Agent, request } from 'undici';

/** A `fetch` for `createClient({ fetch })` over one keep-alive agent. */
export function createApiFetch(dispatcher: Agent = new Agent()): typeof fetch {
  return (async (input: string | URL, init: RequestInit = {}) => {
    const answer = await request(input, {
      method: (init.method ?? 'GET') as 'GET',
      headers: init.headers as Record<string, string> | undefined,
      body: init.body as string | undefined,
      signal: init.signal ?? undefined,
      dispatcher,
    });
    const text = await answer.body.text();
    const status = answer.statusCode;
    return {
      ok: status >= 200 && status < 300,
      status,
      statusText: STATUS_CODES[status] ?? '',
      text: () => Promise.resolve(text),
    } as Response;
  }) as typeof fetch;
}
