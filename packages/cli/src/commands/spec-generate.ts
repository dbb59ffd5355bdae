import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { parse } from 'yaml';
import { generateSpecKit, slugify, writeSpecKitDir, zipSpecKit } from '@ocr/spec-kit';

const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * `ocr spec generate --name … [-f input.yaml] --out DIR`: write a new Spec Kit. The input file (YAML or
 * JSON: name, description, goals, users, constraints, milestones) is read first; flags override its fields.
 */
export function registerSpecGenerate(spec: Command): void {
  spec
    .command('generate')
    .description('generate a Spec Kit from a name, goals, users, constraints and milestones')
    .option('--name <name>', 'project name (required here or in the input file)')
    .option(
      '-f, --file <input.yaml>',
      'input as YAML or JSON: name, description, goals, users, constraints, milestones',
    )
    .option('--description <text>', 'what the project is')
    .option('--goal <text>', 'a goal; repeat for more (each becomes a requirement)', collect, [] as string[])
    .option('--user <text>', 'a user group; repeat for more', collect, [] as string[])
    .option('--constraint <text>', 'a constraint; repeat for more', collect, [] as string[])
    .option(
      '--milestone <text>',
      'a milestone (one plan phase each); repeat for more',
      collect,
      [] as string[],
    )
    .requiredOption('--out <dir>', 'directory to write constitution.md, prd.md, plan.md and tasks.md into')
    .option('--zip <file>', 'also write the kit as a zip')
    .action(async (opts) => {
      const input: Record<string, unknown> = opts.file
        ? ((parse(await readFile(opts.file, 'utf8')) as Record<string, unknown> | null) ?? {})
        : {};
      if (opts.name) input.name = opts.name;
      if (opts.description) input.description = opts.description;
      if (opts.goal.length) input.goals = opts.goal;
      if (opts.user.length) input.users = opts.user;
      if (opts.constraint.length) input.constraints = opts.constraint;
      if (opts.milestone.length) input.milestones = opts.milestone;
      const kit = generateSpecKit(input);
      for (const path of await writeSpecKitDir(opts.out, kit)) process.stdout.write(`wrote ${path}\n`);
      if (opts.zip) {
        await writeFile(opts.zip, zipSpecKit(kit, slugify(String(input.name))));
        process.stdout.write(`wrote ${opts.zip}\n`);
      }
    });
}
