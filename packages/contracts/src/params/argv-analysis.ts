/**
 * Placeholders in an argv (a docker `command` behind the image's entrypoint, an MCP stdio server's
 * `command` and `args`): no shell is involved, so an element is data exactly when it is one whole
 * placeholder, not the program, and no element names an interpreter that could read it as code.
 */
import { findPlaceholders, guidance, interpreterName, type PlaceholderAt } from './placeholders.js';

export interface ArgvRefusal extends PlaceholderAt {
  /** Index of the element in the argv given. */
  index: number;
  message: string;
}

export interface ArgvAnalysis {
  refusals: ArgvRefusal[];
  /** Elements (by index) that are one whole placeholder: replaced by the value, which starts an argument. */
  whole: Map<number, PlaceholderAt>;
}

/** Analyze an argv whose element 0 is the program. */
export function analyzeArgv(argv: readonly string[]): ArgvAnalysis {
  const refusals: ArgvRefusal[] = [];
  const whole = new Map<number, PlaceholderAt>();
  const interpreter = argv
    .map((arg, i) =>
      findPlaceholders(arg).length === 0 ? interpreterName(arg, i === 0 ? 'command' : 'argument') : undefined,
    )
    .find(Boolean);
  argv.forEach((arg, index) => {
    const found = findPlaceholders(arg);
    if (found.length === 0) return;
    const refuse = (p: PlaceholderAt, why: string) =>
      refusals.push({ ...p, index, message: `{{${p.ns}.${p.name}}} ${why}; ${guidance(p.ns, p.name)}` });
    for (const p of found) {
      if (index === 0) refuse(p, 'names the program to run; a param cannot choose the program');
      else if (found.length > 1 || p.start !== 0 || p.end !== arg.length)
        refuse(
          p,
          'is part of an argv element; a placeholder must be a whole element, so the value is exactly one argument',
        );
      else if (interpreter)
        refuse(
          p,
          `is an argument of a command line that runs \`${interpreter}\`, which could read it as code or as a program to run`,
        );
      else whole.set(index, p);
    }
  });
  return { refusals, whole };
}
