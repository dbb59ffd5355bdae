/** A run export as readable Markdown: metadata, steps, artifacts, then the event log. */
export function renderRunMarkdown(doc: {
  run: {
    id: string;
    template: string;
    template_version: number;
    lane: string;
    status: string;
    attempt: number;
    created_at: string;
    started_at: string | null;
    finished_at: string | null;
    error: unknown;
    params: unknown;
  };
  steps: {
    idx: number;
    attempt: number;
    name: string;
    kind: string;
    status: string;
    exit_code: number | null;
  }[];
  events: { seq: number; ts: string; level: string; type: string; step: string | null; message: string }[];
  artifacts: { name: string; kind: string; size: number; sha256: string }[];
}): string {
  const { run } = doc;
  const fence = (text: string) => '```\n' + text.replace(/```/g, '`\u200b``') + '\n```';
  const lines = [
    `# Run ${run.id}`,
    '',
    `| field | value |`,
    `|---|---|`,
    `| template | ${run.template} v${run.template_version} |`,
    `| lane | ${run.lane} |`,
    `| status | ${run.status} |`,
    `| attempt | ${run.attempt} |`,
    `| created | ${run.created_at} |`,
    `| started | ${run.started_at ?? '—'} |`,
    `| finished | ${run.finished_at ?? '—'} |`,
    '',
    '## Params',
    '',
    fence(JSON.stringify(run.params, null, 2)),
  ];
  if (run.error) lines.push('', '## Error', '', fence(JSON.stringify(run.error, null, 2)));
  lines.push('', '## Steps', '');
  if (doc.steps.length === 0) lines.push('_none recorded_');
  for (const s of doc.steps)
    lines.push(
      `- attempt ${s.attempt}, step ${s.idx + 1} **${s.name}** (${s.kind}): ${s.status}${s.exit_code !== null ? `, exit ${s.exit_code}` : ''}`,
    );
  lines.push('', '## Artifacts', '');
  if (doc.artifacts.length === 0) lines.push('_none_');
  for (const a of doc.artifacts)
    lines.push(`- ${a.name} (${a.kind}, ${a.size} bytes, sha256 ${a.sha256.slice(0, 12)}…)`);
  lines.push(
    '',
    '## Events',
    '',
    fence(
      doc.events
        .map(
          (e) =>
            `${e.seq} ${e.ts} ${e.level.padEnd(5)} ${e.type}${e.step ? ` [${e.step}]` : ''} ${e.message}`,
        )
        .join('\n'),
    ),
    '',
  );
  return lines.join('\n');
}
