import type { Command } from '@commander-js/extra-typings';
import { serveStdio } from '@ocr/mcp';
import { connection } from './client-commands.js';

/** `ocr mcp`: the control room as an MCP server on stdio, for local agents (OCR_API_URL, OCR_TOKEN). */
export function registerMcp(program: Command): void {
  program
    .command('mcp')
    .description(
      'serve the control room as an MCP server on stdin/stdout: templates as tools, runs and artifacts as resources (OCR_API_URL, OCR_TOKEN)',
    )
    .action(async () => {
      await serveStdio(connection().client);
    });
}
