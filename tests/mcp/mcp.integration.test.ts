import { join } from 'node:path';
import t from 'tap';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startStack, startTestWorker, type Stack } from '@ocr/testkit';

const OCR = join(import.meta.dirname, '../../packages/cli/bin/ocr.js');
const SECRET = 'hunter2-do-not-show';

const TEMPLATE = {
  name: 'mcp-demo',
  description: 'greets and writes a report',
  params_schema: {
    type: 'object',
    properties: {
      who: { type: 'string', maxLength: 50 },
      api_key: { type: 'string', writeOnly: true },
    },
    required: ['who', 'api_key'],
    additionalProperties: false,
  },
  default_lane: 'A',
  steps: [
    {
      name: 'greet',
      kind: 'shell' as const,
      script:
        'for i in 1 2 3; do echo "hello $OCR_PARAM_WHO $i"; done; echo "key=$OCR_PARAM_API_KEY"; mkdir -p out; echo "# report for $OCR_PARAM_WHO" > out/report.md',
      artifacts: [{ path: 'out/report.md', kind: 'markdown' as const }],
    },
  ],
};

async function connectHttp(
  t: { teardown(fn: () => unknown): void },
  stack: Stack,
  token: string,
): Promise<Client> {
  const client = new Client({ name: 'ocr-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${stack.apiUrl}/v1/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  t.teardown(() => client.close());
  return client;
}

function textOf(result: unknown): string {
  const content = (result as { content: { type: string; text?: string }[] }).content;
  return content.map((c) => c.text ?? '').join('\n');
}

t.test(
  'an MCP client lists template tools, runs one, streams it to the end and reads its artifact',
  async (t) => {
    const stack = await startStack(t);
    await startTestWorker(t, stack);
    await stack.client.templates.create(TEMPLATE);
    await stack.client.templates.create({ ...TEMPLATE, name: 'mcp-hidden', description: 'out of scope' });
    // An operator token held to one template: the other must not be offered, nor be runnable.
    const { token } = await stack.client.tokens.create({
      name: 'agent',
      role: 'operator',
      templates: ['mcp-demo'],
    });
    const mcp = await connectHttp(t, stack, token);

    const { tools } = await mcp.listTools();
    const names = tools.map((tool) => tool.name);
    t.ok(names.includes('run_mcp-demo'), 'the template is a tool');
    t.notOk(names.includes('run_mcp-hidden'), "a template outside the token's allowlist is not offered");
    for (const name of ['follow_run', 'get_run', 'list_artifacts', 'get_artifact', 'cancel_run', 'retry_run'])
      t.ok(names.includes(name), `tool ${name}`);
    const tool = tools.find((x) => x.name === 'run_mcp-demo')!;
    const props = tool.inputSchema.properties as Record<string, Record<string, unknown>>;
    t.same(tool.inputSchema.required, ['who', 'api_key'], 'input schema = params schema');
    t.equal(props.api_key!['x-ocr-secret'], true, 'the secret param is marked');
    t.equal(props.api_key!.writeOnly, true, 'the params schema itself is kept');

    const hidden = await mcp.callTool({ name: 'run_mcp-hidden', arguments: { who: 'x', api_key: 'y' } });
    t.ok(hidden.isError, 'a template out of scope cannot be run');

    const started = await mcp.callTool({
      name: 'run_mcp-demo',
      arguments: { who: 'agent', api_key: SECRET },
    });
    t.notOk(started.isError, 'the run is started');
    const runId = (JSON.parse(textOf(started)) as { run: { id: string } }).run.id;
    t.notOk(textOf(started).includes(SECRET), 'the secret is not shown back');

    const progress: string[] = [];
    const followed = await mcp.callTool({ name: 'follow_run', arguments: { run_id: runId } }, undefined, {
      onprogress: (p) => progress.push(p.message ?? ''),
      resetTimeoutOnProgress: true,
    });
    const out = textOf(followed);
    t.match(out, /^status: success/, 'followed to completion');
    for (const i of [1, 2, 3]) t.ok(out.includes(`hello agent ${i}`), `line ${i} in the answer`);
    t.ok(
      ['hello agent 1', 'hello agent 2', 'hello agent 3'].every((line) =>
        progress.some((p) => p.includes(line)),
      ),
      'each line was streamed as a progress notification',
    );
    t.notOk(
      out.includes(SECRET) || progress.some((p) => p.includes(SECRET)),
      'the secret is masked in output',
    );

    const listed = JSON.parse(
      textOf(await mcp.callTool({ name: 'list_artifacts', arguments: { run_id: runId } })),
    ) as {
      artifacts: { id: string; name: string }[];
    };
    t.equal(listed.artifacts.length, 1);
    const artifact = await mcp.callTool({
      name: 'get_artifact',
      arguments: { artifact_id: listed.artifacts[0]!.id },
    });
    t.equal(textOf(artifact).trim(), '# report for agent', 'the artifact is read');
    const resource = await mcp.readResource({ uri: `ocr://artifacts/${listed.artifacts[0]!.id}` });
    t.equal(
      (resource.contents[0] as { text: string }).text.trim(),
      '# report for agent',
      'as a resource too',
    );
    const runResource = await mcp.readResource({ uri: `ocr://runs/${runId}` });
    t.equal(
      (JSON.parse((runResource.contents[0] as { text: string }).text) as { run: { status: string } }).run
        .status,
      'success',
    );
    const { resourceTemplates } = await mcp.listResourceTemplates();
    t.same(resourceTemplates.map((r) => r.uriTemplate).sort(), [
      'ocr://artifacts/{artifact_id}',
      'ocr://runs/{run_id}',
    ]);
  },
);

t.test('a viewer token sees read tools only and is refused a write', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create(TEMPLATE);
  const { run } = await stack.client.runs.create({
    template: 'mcp-demo',
    params: { who: 'v', api_key: 'k' },
    delay_s: 3600,
  });
  const { token } = await stack.tokenFor('viewer');
  const mcp = await connectHttp(t, stack, token);
  const names = (await mcp.listTools()).tools.map((tool) => tool.name);
  t.ok(names.includes('get_run') && names.includes('follow_run'), 'read tools');
  t.notOk(
    names.some((n) => n.startsWith('run_') || ['cancel_run', 'retry_run', 'validate_template'].includes(n)),
    'no tool that writes',
  );
  const cancel = await mcp.callTool({ name: 'cancel_run', arguments: { run_id: run.id } });
  t.ok(cancel.isError, 'cancel refused');
  t.match(textOf(cancel), /^forbidden: /);
  const start = await mcp.callTool({ name: 'run_mcp-demo', arguments: { who: 'x', api_key: 'y' } });
  t.ok(start.isError, 'starting a run refused');
  t.match(textOf(start), /^forbidden: /);
  t.equal((await stack.client.runs.get(run.id)).run.status, 'queued', 'nothing changed');
  t.equal((await stack.client.runs.list({})).runs.length, 1, 'no run was created');

  const status = await mcp.callTool({ name: 'get_run', arguments: { run_id: run.id } });
  t.notOk(status.isError);
  t.notOk(textOf(status).includes('"k"'), "a secret param's value is masked for the viewer too");
});

t.test('the MCP endpoint takes the API tokens: none is 401, a worker token 403; GET is 405', async (t) => {
  const stack = await startStack(t, { s3: false });
  const initialize = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });
  const post = (headers: Record<string, string>) =>
    fetch(`${stack.apiUrl}/v1/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: initialize,
    });
  t.equal((await post({})).status, 401);
  const { token: workerToken } = await stack.tokenFor('worker');
  t.equal((await post({ authorization: `Bearer ${workerToken}` })).status, 403);
  const ok = await post({ authorization: `Bearer ${stack.adminToken}` });
  t.equal(ok.status, 200);
  await ok.body?.cancel();
  const get = await fetch(`${stack.apiUrl}/v1/mcp`, {
    headers: { authorization: `Bearer ${stack.adminToken}` },
  });
  t.equal(get.status, 405);
});

t.test('ocr mcp serves the same tools on stdio', async (t) => {
  const stack = await startStack(t, { s3: false });
  await stack.client.templates.create(TEMPLATE);
  const { token } = await stack.tokenFor('operator');
  const client = new Client({ name: 'ocr-test', version: '1.0.0' });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [OCR, 'mcp'],
    env: { ...(process.env as Record<string, string>), OCR_API_URL: stack.apiUrl, OCR_TOKEN: token },
    stderr: 'pipe',
  });
  await client.connect(transport);
  t.teardown(() => client.close());
  const names = (await client.listTools()).tools.map((tool) => tool.name);
  t.ok(names.includes('run_mcp-demo') && names.includes('follow_run'));
  const started = await client.callTool({ name: 'run_mcp-demo', arguments: { who: 'stdio', api_key: 'z' } });
  const runId = (JSON.parse(textOf(started)) as { run: { id: string } }).run.id;
  const status = await client.callTool({ name: 'get_run', arguments: { run_id: runId } });
  t.match(textOf(status), /"status": "queued"/, 'the run exists, queued (no worker in this test)');
});
