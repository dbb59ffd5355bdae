/** A fixed tool of the MCP server: name, description, JSON Schema of its arguments. */
export interface ToolSpec {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

const UUID = { type: 'string', format: 'uuid' } as const;
const object = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

/** Tools every role that can read runs is offered (viewer and above). */
export const READ_TOOLS: ToolSpec[] = [
  {
    name: 'follow_run',
    description:
      "Stream a run's output (each line as a progress notification) until it finishes or timeout_s passes; " +
      'answers its status, last_seq and the output. Call again with after_seq to resume.',
    inputSchema: object(
      {
        run_id: UUID,
        after_seq: { type: 'integer', minimum: 0, description: 'resume after this event seq' },
        timeout_s: { type: 'integer', minimum: 1, maximum: 3600, default: 300 },
      },
      ['run_id'],
    ),
  },
  {
    name: 'get_run',
    description: "A run's status, params (secrets masked), error, output and steps.",
    inputSchema: object({ run_id: UUID }, ['run_id']),
  },
  {
    name: 'list_runs',
    description: 'Recent runs, newest first, optionally filtered.',
    inputSchema: object({
      status: { type: 'string', enum: ['queued', 'running', 'success', 'error', 'cancelled', 'scheduled'] },
      template: { type: 'string' },
      lane: { type: 'string' },
      limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    }),
  },
  {
    name: 'list_artifacts',
    description: "A run's artifacts (id, name, kind, size, status).",
    inputSchema: object({ run_id: UUID }, ['run_id']),
  },
  {
    name: 'get_artifact',
    description: "An artifact's content: text kinds as text, images as images, other files described.",
    inputSchema: object({ artifact_id: UUID }, ['artifact_id']),
  },
  {
    name: 'list_templates',
    description:
      'The runbook templates this token may see, as tool definitions (input schema, secret params).',
    inputSchema: object({}),
  },
];

/** Tools that change something or need the operator role: offered to operators and admins only. */
export const WRITE_TOOLS: ToolSpec[] = [
  {
    name: 'cancel_run',
    description: 'Cancel a run: a queued one at once, a running one is stopped by its worker.',
    inputSchema: object({ run_id: UUID }, ['run_id']),
  },
  {
    name: 'retry_run',
    description: 'Start a new run of a failed or cancelled run (linked by retry_of).',
    inputSchema: object({ run_id: UUID }, ['run_id']),
  },
  {
    name: 'validate_template',
    description:
      'Check a drafted template (name, description, params_schema, default_lane, steps) without saving or running it; ' +
      'an invalid one is answered with every problem.',
    inputSchema: object({ template: { type: 'object' } }, ['template']),
  },
];
