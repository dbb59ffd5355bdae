/**
 * Example: a runbook template as an agent tool definition and back. The tool definition is what a model
 * API takes (name, description, JSON Schema input); the "agent" drafts a new template from it, and the
 * API validates the draft before anything is saved or runs. Invalid drafts come back with every problem,
 * for the agent to fix.
 *
 *   OCR_API_URL=http://localhost:8080 OCR_TOKEN=… node --import tsx examples/agent/template-tool.ts hello
 */
import { pathToFileURL } from 'node:url';
import {
  createAgentAdapter,
  createClient,
  isApiError,
  templateToTool,
  toolToTemplate,
  type OcrClient,
  type RunbookTool,
  type TemplateInput,
} from '@ocr/client';

/** What an agent would hand its model: the OpenAI/Anthropic-style function definition of a runbook. */
export function asFunctionDefinition(tool: RunbookTool) {
  return { name: tool.name, description: tool.description, input_schema: tool.inputSchema };
}

/** Validate a drafted template; the API's problems (or none) for the agent to act on. */
export async function validateDraft(
  client: OcrClient,
  draft: TemplateInput,
): Promise<{ valid: boolean; problems: unknown }> {
  try {
    await client.templates.validate(draft);
    return { valid: true, problems: [] };
  } catch (err) {
    if (isApiError(err, 'validation_failed')) return { valid: false, problems: err.details };
    throw err;
  }
}

/**
 * Template → tool → drafted template → validated → saved → run through the agent adapter. Returns the
 * tool, the draft's name and the outcome of running it.
 */
export async function roundTrip(client: OcrClient, templateName: string, steps: TemplateInput['steps']) {
  const tool = templateToTool(await client.templates.get(templateName));
  const draft = toolToTemplate({ ...tool, template: `${templateName}-drafted` }, steps);
  const check = await validateDraft(client, draft);
  if (!check.valid) return { tool, draft, check, outcome: undefined };
  await client.templates.put(draft);
  const adapter = createAgentAdapter(client);
  const example = Object.fromEntries(
    Object.entries(
      (tool.inputSchema.properties ?? {}) as Record<string, { type?: string; default?: unknown }>,
    ).map(([key, p]) => [key, p.default ?? (p.type === 'integer' || p.type === 'number' ? 1 : 'example')]),
  );
  const outcome = await adapter.invoke(`run_${draft.name}`, example);
  return { tool, draft, check, outcome };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const client = createClient({ baseUrl: process.env.OCR_API_URL!, token: process.env.OCR_TOKEN! });
  const name = process.argv[2] ?? 'hello';
  const tool = templateToTool(await client.templates.get(name));
  process.stdout.write(JSON.stringify(asFunctionDefinition(tool), null, 2) + '\n');
  const result = await roundTrip(client, name, [
    { name: 'say', kind: 'shell', script: 'echo "drafted by an agent"' },
  ]);
  process.stdout.write(JSON.stringify({ check: result.check, outcome: result.outcome }, null, 2) + '\n');
}
