import t from 'tap';
import { createAgentAdapter, templateToTool, toolToTemplate, type RunbookTool } from '@ocr/client';
import { startStack, startTestWorker } from '@ocr/testkit';
import { asFunctionDefinition, roundTrip, validateDraft } from '../../examples/agent/template-tool.js';

const TEMPLATE = {
  name: 'agent-echo',
  description: 'echo a message a number of times',
  params_schema: {
    type: 'object',
    properties: {
      message: { type: 'string', maxLength: 100 },
      times: { type: 'integer', minimum: 1, maximum: 5, default: 2 },
      token: { type: 'string', format: 'password' },
    },
    required: ['message'],
    additionalProperties: false,
  },
  default_lane: 'A',
  steps: [
    {
      name: 'echo',
      kind: 'shell' as const,
      script: 'i=0; while [ $i -lt "$OCR_PARAM_TIMES" ]; do echo "$OCR_PARAM_MESSAGE"; i=$((i+1)); done',
    },
  ],
};

t.test('a template converts to a tool definition and back unchanged', async (t) => {
  const tool = templateToTool(TEMPLATE);
  t.equal(tool.name, 'run_agent-echo');
  t.same(tool.secretParams, ['token']);
  const fn = asFunctionDefinition(tool);
  t.same(Object.keys(fn), ['name', 'description', 'input_schema']);
  const back = toolToTemplate(tool, TEMPLATE.steps);
  t.same(back.params_schema, TEMPLATE.params_schema, 'the params schema survives the round trip');
  t.equal(back.name, TEMPLATE.name);
  t.equal(back.default_lane, 'A');
});

/**
 * A scripted agent: each turn it looks at what it has (tools, last result) and picks the next action, as a
 * model would; the script stands in for the model so the loop is deterministic.
 */
t.test('a scripted agent loop lists tools, runs one, follows it, drafts and fixes a template', async (t) => {
  const stack = await startStack(t, { s3: false });
  await startTestWorker(t, stack);
  await stack.client.templates.create(TEMPLATE);
  const { client } = await stack.tokenFor('operator');
  const adapter = createAgentAdapter(client);

  type Action =
    | { kind: 'list' }
    | { kind: 'invoke'; tool: string; args: Record<string, unknown> }
    | { kind: 'draft'; steps: unknown[] }
    | { kind: 'done' };
  const transcript: string[] = [];
  let tools: RunbookTool[] = [];
  let problems: unknown;
  const seen: string[] = [];
  const script: ((state: { tools: RunbookTool[]; problems: unknown }) => Action)[] = [
    () => ({ kind: 'list' }),
    (s) => ({
      kind: 'invoke',
      tool: s.tools.find((x) => x.template === 'agent-echo')!.name,
      args: { message: 'ping', times: 3, token: 'tok-SECRET-1' },
    }),
    // A first draft with a step the API must refuse (no script), then the fix after reading the problems.
    () => ({ kind: 'draft', steps: [{ name: 'broken', kind: 'shell' }] }),
    (s) => {
      t.ok(s.problems, 'the agent saw the problems of its draft');
      return {
        kind: 'draft',
        steps: [{ name: 'fixed', kind: 'shell', script: 'echo "fixed by the agent"' }],
      };
    },
    () => ({ kind: 'invoke', tool: 'run_agent-echo-drafted', args: { message: 'again' } }),
    () => ({ kind: 'done' }),
  ];
  for (const turn of script) {
    const action = turn({ tools, problems });
    transcript.push(action.kind);
    if (action.kind === 'done') break;
    if (action.kind === 'list') tools = await adapter.listTools();
    else if (action.kind === 'invoke') {
      const outcome = await adapter.invoke(action.tool, action.args, { onEvent: (e) => seen.push(e.type) });
      transcript.push(`${action.tool}: ${outcome.status} ${outcome.lines.join('|')}`);
      t.notOk(JSON.stringify(outcome).includes('tok-SECRET-1'), 'the secret never comes back');
    } else {
      const tool = tools.find((x) => x.template === 'agent-echo')!;
      const draft = toolToTemplate({ ...tool, template: 'agent-echo-drafted' }, action.steps as never);
      const before = (await client.templates.list()).templates.length;
      const check = await validateDraft(client, draft);
      problems = check.problems;
      transcript.push(`draft: ${check.valid ? 'valid' : 'invalid'}`);
      if (check.valid) {
        await client.templates.create(draft);
        tools = await adapter.listTools();
      } else
        t.equal((await client.templates.list()).templates.length, before, 'an invalid draft saved nothing');
    }
  }
  t.same(transcript, [
    'list',
    'invoke',
    'run_agent-echo: success ping|ping|ping',
    'draft',
    'draft: invalid',
    'draft',
    'draft: valid',
    'invoke',
    'run_agent-echo-drafted: success fixed by the agent',
    'done',
  ]);
  t.ok(seen.includes('log') && seen.includes('step.started'), 'events were received as they happened');
  t.ok(Array.isArray(problems) ? problems.length === 0 : true);

  const result = await roundTrip(client, 'agent-echo', [
    { name: 'say', kind: 'shell', script: 'echo finished' },
  ]);
  t.equal(result.outcome?.status, 'success', 'the example round trip runs');
  t.same(result.outcome?.lines, ['finished']);
});
