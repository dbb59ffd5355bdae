import type { Stack } from '@ocr/testkit';

/** A minimal template every API test can run. */
export const ECHO_TEMPLATE = {
  name: 'echo',
  description: 'print a message',
  params_schema: {
    type: 'object',
    properties: { message: { type: 'string', maxLength: 100 }, count: { type: 'integer', default: 1 } },
    required: ['message'],
    additionalProperties: false,
  },
  default_lane: 'A',
  retry: { max_attempts: 2, backoff: { initial_s: 0, factor: 1, max_s: 0 } },
  steps: [{ name: 'say', kind: 'shell' as const, script: 'echo {{params.message}}' }],
};

export async function withEchoTemplate(stack: Stack): Promise<void> {
  await stack.client.templates.create(ECHO_TEMPLATE);
}

/** A raw fetch against the API, for bad-input tests the typed client would not let through. */
export async function raw(
  stack: Stack,
  method: string,
  path: string,
  init: { token?: string | null; body?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  const token = init.token === undefined ? stack.adminToken : init.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const response = await fetch(stack.apiUrl + path, { method, headers, body: init.body });
  const text = await response.text();
  // Bad-input tests read arbitrary fields of whatever came back, error bodies included.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json, headers: response.headers };
}
