import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { CliError, EXIT } from '../exit-codes.js';
import { printJson, printTable } from '../output.js';
import { templateFromServer, templateJson, templateYaml } from '../templates-as-code/canonical.js';
import { applyPlan, planApply, type PlanEntry } from '../templates-as-code/plan.js';
import { connection } from './client-commands.js';

const VERB: Record<PlanEntry['action'], string> = {
  create: 'created',
  update: 'updated',
  unchanged: 'unchanged',
  prune: 'pruned',
};

/** `ocr templates apply|export|list|get`: templates kept as files in git and applied by CI. */
export function registerTemplates(program: Command): void {
  const templates = program
    .command('templates')
    .description('runbook templates as code (OCR_API_URL, OCR_TOKEN)');

  templates
    .command('apply')
    .description(
      'create templates that do not exist, add a version to those that differ, leave identical ones alone',
    )
    .requiredOption('-f, --file <path...>', 'template files (YAML or JSON, one template each) or directories')
    .option('--prune', 'retire server templates that no file defines')
    .option('--dry-run', 'print a diff per template and change nothing')
    .option('--exit-code', `with --dry-run: exit ${EXIT.changes} when anything would change`)
    .action(async (opts) => {
      if (opts.exitCode && !opts.dryRun) throw new CliError('--exit-code: only with --dry-run', EXIT.usage);
      const { client } = connection();
      const plan = await planApply(client, opts.file, { prune: Boolean(opts.prune) });
      if (!plan.ok) {
        for (const problem of plan.problems) process.stderr.write(`${problem}\n`);
        process.stderr.write(
          `ocr: nothing applied: ${plan.problems.length} problem${plan.problems.length === 1 ? '' : 's'}\n`,
        );
        throw new CliError('', EXIT.usage);
      }
      const counts = { create: 0, update: 0, unchanged: 0, prune: 0 };
      for (const entry of plan.entries) counts[entry.action]++;
      const summary = `${counts.create} to create, ${counts.update} to update, ${counts.unchanged} unchanged, ${counts.prune} to prune`;
      if (opts.dryRun) {
        for (const entry of plan.entries) {
          process.stdout.write(`${headline(entry)}\n`);
          if (entry.diff) process.stdout.write(entry.diff);
        }
        process.stdout.write(`dry run: ${summary}; nothing changed\n`);
        if (opts.exitCode && counts.create + counts.update + counts.prune > 0)
          process.exitCode = EXIT.changes;
        return;
      }
      await applyPlan(client, plan.entries, (entry, version) => {
        const at = version === undefined ? '' : ` v${version}`;
        process.stdout.write(
          `${VERB[entry.action]} ${entry.name}${at}${entry.path ? ` (${entry.path})` : ''}\n`,
        );
      });
      process.stdout.write(
        `applied: ${counts.create} created, ${counts.update} updated, ${counts.unchanged} unchanged, ${counts.prune} pruned\n`,
      );
    });

  templates
    .command('export')
    .description('write the server templates as files that apply reads back unchanged')
    .argument('[names...]', 'only these templates (default: all the token may see)')
    .option('--dir <dir>', 'write one file per template (NAME.yaml) into DIR instead of to stdout')
    .option('--json', 'JSON instead of YAML (an array on stdout, NAME.json files with --dir)')
    .action(async (names, opts) => {
      const { client } = connection();
      const list =
        names.length > 0
          ? await Promise.all(names.map((name) => client.templates.get(name)))
          : (await client.templates.list()).templates;
      const docs = list.map(templateFromServer).sort((a, b) => (a.name < b.name ? -1 : 1));
      if (opts.dir) {
        await mkdir(opts.dir, { recursive: true });
        for (const doc of docs) {
          const path = join(opts.dir, `${doc.name}.${opts.json ? 'json' : 'yaml'}`);
          await writeFile(path, opts.json ? templateJson(doc) : templateYaml(doc));
          process.stdout.write(`${path}\n`);
        }
      } else if (opts.json) printJson(docs);
      else process.stdout.write(docs.map(templateYaml).join('---\n'));
    });

  templates
    .command('list')
    .description('the latest version of every template')
    .option('--json', 'the API answer as JSON (an array of templates)')
    .action(async (opts) => {
      const { templates: list } = await connection().client.templates.list();
      if (opts.json) return printJson(list);
      printTable(
        ['NAME', 'VERSION', 'LANE', 'STEPS', 'DESCRIPTION'],
        list.map((t) => [t.name, `v${t.version}`, t.default_lane, t.steps.length, firstLine(t.description)]),
      );
    });

  templates
    .command('get')
    .description("a template's latest version (as YAML, the form apply reads)")
    .argument('<name>')
    .option('--json', 'the API answer as JSON (with version and created_at)')
    .action(async (name, opts) => {
      const template = await connection().client.templates.get(name);
      if (opts.json) return printJson(template);
      process.stdout.write(`# ${template.name} v${template.version}, saved ${template.created_at}\n`);
      process.stdout.write(templateYaml(templateFromServer(template)));
    });
}

function headline(entry: PlanEntry): string {
  const from = entry.path ? ` (${entry.path})` : '';
  switch (entry.action) {
    case 'create':
      return `+ create ${entry.name}${from}`;
    case 'update':
      return `~ update ${entry.name} v${entry.version} -> v${entry.version! + 1}${from}`;
    case 'unchanged':
      return `= unchanged ${entry.name} v${entry.version}${from}`;
    case 'prune':
      return `- prune ${entry.name} v${entry.version}`;
  }
}

function firstLine(text: string): string {
  const line = text.split('\n')[0]!;
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}
