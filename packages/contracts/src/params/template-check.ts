/**
 * The template check run when a template is saved (and by `/v1/templates/validate`): every placeholder of
 * every step must stand where its executor renders it as data. A refusal names the field, the step, the
 * line and column, and says how to pass the value instead. The same analyses run again in the worker when
 * it renders a step, so a template stored before this check cannot run an unsafe placeholder either.
 */
import { analyzeArgv } from './argv-analysis.js';
import { findPlaceholders, guidance, isCodeVariable, malformedPlaceholders } from './placeholders.js';
import { analyzeShellScript, lineColumn } from './shell-analysis.js';
import { kitPathProblem } from './kit-path.js';
import { checkUrlTemplate } from './url.js';

/** One refused placeholder of a template. */
export interface PlacementProblem {
  /** `steps[0].script`, `steps[1].command[2]`, `steps[2].env.FOO`, … */
  field: string;
  /** The step's name. */
  step: string;
  line: number;
  column: number;
  message: string;
  /** `path_refused`: a Spec Kit `path` that can never be read (`..`); otherwise a refused placeholder. */
  reason: 'unsafe_placeholder' | 'path_refused';
}

export interface TemplatePlacements {
  problems: PlacementProblem[];
  /** Params whose value starts an argument somewhere (a leading `-` would be read as an option). */
  bareParams: Set<string>;
  /** Params whose value becomes (part of) a Spec Kit `path` source: checked with `kitPathProblem` at run creation. */
  pathParams: Set<string>;
}

type Json = Record<string, unknown>;

/** Params declared `type: integer`: the only ones an arithmetic context accepts. */
export function integerParams(schema: unknown): Set<string> {
  const props = (schema as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties ?? {};
  return new Set(
    Object.entries(props)
      .filter(
        ([, p]) =>
          p &&
          (p.type === 'integer' ||
            (Array.isArray(p.type) && p.type.length > 0 && p.type.every((t) => t === 'integer'))),
      )
      .map(([name]) => name),
  );
}

const asStrings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
const asMap = (value: unknown): Record<string, string> =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, string>) : {};

/** Check every placeholder of every step. */
export function checkTemplatePlaceholders(
  steps: readonly unknown[],
  paramsSchema?: unknown,
): TemplatePlacements {
  const problems: PlacementProblem[] = [];
  const bareParams = new Set<string>();
  const pathParams = new Set<string>();
  const integers = integerParams(paramsSchema);
  steps.forEach((raw, index) => {
    const step = (raw ?? {}) as Json;
    const stepName = String(step.name ?? `#${index + 1}`);
    const at = (field: string, text: string, offset: number, message: string) => {
      const { line, column } = lineColumn(text, offset);
      problems.push({
        field: `steps[${index}].${field}`,
        step: stepName,
        line,
        column,
        message: `step "${stepName}", ${field}, line ${line}, column ${column}: ${message}`,
        reason: 'unsafe_placeholder',
      });
    };
    // Anything that looks like a placeholder but is not one is refused everywhere: it would stay literal text.
    walkStrings(step, '', (field, text) => {
      for (const offset of malformedPlaceholders(text))
        at(
          field,
          text,
          offset,
          'this is not a valid placeholder: write {{params.name}} or {{secrets.NAME}} with a name of letters, digits and _',
        );
    });
    const envs = (field: string, env: unknown) => {
      for (const [name, value] of Object.entries(asMap(env))) {
        if (typeof value !== 'string') continue;
        const first = findPlaceholders(value)[0];
        if (first && isCodeVariable(name))
          at(
            `${field}.${name}`,
            value,
            first.start,
            `{{${first.ns}.${first.name}}} is the value of ${name}, a variable whose value is code or a place to load code from; ${guidance(first.ns, first.name)}`,
          );
      }
    };
    const notRendered = (field: string, value: unknown) => {
      if (typeof value !== 'string') return;
      const first = findPlaceholders(value)[0];
      if (first) at(field, value, first.start, `placeholders are not rendered in ${field}`);
    };
    const argv = (field: (i: number) => string, elements: string[], offsetIndex: number) => {
      const { refusals, whole } = analyzeArgv(elements);
      for (const r of refusals)
        if (r.index >= offsetIndex) at(field(r.index - offsetIndex), elements[r.index]!, r.start, r.message);
      for (const p of whole.values()) if (p.ns === 'params') bareParams.add(p.name);
    };
    switch (step.kind) {
      case 'shell': {
        const script = typeof step.script === 'string' ? step.script : '';
        const { refusals, placements } = analyzeShellScript(script, { integerParams: integers });
        for (const r of refusals) at('script', script, r.start, r.message);
        for (const p of placements) if (p.bare && p.ns === 'params') bareParams.add(p.name);
        envs('env', step.env);
        break;
      }
      case 'docker':
        // The image's entrypoint is unknown here: the first element may be the program, so it is treated as one.
        argv((i) => `command[${i}]`, asStrings(step.command), 0);
        envs('env', step.env);
        notRendered('image', step.image);
        notRendered('network', step.network);
        if (
          typeof step.network === 'string' &&
          (step.network === 'host' || step.network.startsWith('container:'))
        ) {
          problems.push({
            field: `steps[${index}].network`,
            step: stepName,
            line: 1,
            column: 1,
            message: `step "${stepName}", network: ${step.network} is not allowed (it would share the worker's or another container's network); use none, bridge or a named network`,
            reason: 'unsafe_placeholder',
          });
        }
        break;
      case 'http': {
        const url = typeof step.url === 'string' ? step.url : '';
        const problem = checkUrlTemplate(url);
        if (problem) at('url', url, problem.offset, problem.message);
        for (const [name, value] of Object.entries(asMap(step.headers))) {
          const first = typeof value === 'string' ? findPlaceholders(value)[0] : undefined;
          if (first && name.toLowerCase() === 'host')
            at(
              `headers.${name}`,
              value,
              first.start,
              'the Host header cannot come from a param (it would choose the server)',
            );
        }
        break;
      }
      case 'mcp': {
        const server = asMap(step.server) as Json;
        if (typeof server.url === 'string') {
          const problem = checkUrlTemplate(server.url);
          if (problem) at('server.url', server.url, problem.offset, problem.message);
        } else {
          notRendered('server.command', server.command);
          argv((i) => `server.args[${i}]`, [String(server.command ?? ''), ...asStrings(server.args)], 1);
          envs('server.env', server.env);
        }
        notRendered('tool', step.tool);
        break;
      }
      case 'spec-kit.validate': {
        envs('env', step.env);
        const input = step.input as Json | undefined;
        // No input: the run's params are the input, so a `path` param is the kit's directory.
        if (input === undefined) pathParams.add('path');
        else if (typeof input.path === 'string') {
          for (const p of findPlaceholders(input.path)) if (p.ns === 'params') pathParams.add(p.name);
          const literal = input.path.replace(/\{\{[^}]*\}\}/g, 'x');
          const problem = kitPathProblem(literal);
          if (problem)
            problems.push({
              field: `steps[${index}].input.path`,
              step: stepName,
              line: 1,
              column: 1,
              message: `step "${stepName}", input.path ${problem}`,
              reason: 'path_refused',
            });
        }
        break;
      }
      default:
        envs('env', step.env);
    }
    for (const key of ['artifacts', 'copy_out'] as const)
      asStrings(((step[key] as Json[] | undefined) ?? []).map((a) => a?.path)).forEach((path, i) =>
        notRendered(`${key}[${i}].path`, path),
      );
  });
  return { problems, bareParams, pathParams };
}

/** Every string inside a step, with its field path. */
function walkStrings(value: unknown, path: string, visit: (field: string, text: string) => void): void {
  if (typeof value === 'string') visit(path || '(step)', value);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, `${path}[${i}]`, visit));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) walkStrings(v, path ? `${path}.${k}` : k, visit);
}

/** Longest string param (characters) when the params schema gives the property no `maxLength`. */
export const DEFAULT_PARAM_MAX_LENGTH = 4096;
/** The params schema annotation that lets a string param used as a bare argument start with `-`. */
export const ALLOW_LEADING_DASH = 'x-ocr-allow-leading-dash';

/**
 * Params a run may not be created with, beyond its JSON Schema: a string longer than its bound (the
 * schema's `maxLength`, else `DEFAULT_PARAM_MAX_LENGTH`), and a string param used as a bare argument that
 * starts with `-` (it would be read as an option: `git ls-remote --upload-pack=…`) unless its schema says
 * `"x-ocr-allow-leading-dash": true` or lists the value in `enum`/`const`.
 */
export function paramValueProblems(
  params: Record<string, unknown>,
  schema: unknown,
  placements: { bareParams: ReadonlySet<string>; pathParams?: ReadonlySet<string> },
): { field: string; message: string }[] {
  const { bareParams, pathParams } = placements;
  const props = (schema as { properties?: Record<string, Json> } | undefined)?.properties ?? {};
  const problems: { field: string; message: string }[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== 'string') continue;
    const prop = props[name] ?? {};
    if (prop.maxLength === undefined && value.length > DEFAULT_PARAM_MAX_LENGTH) {
      problems.push({
        field: `params.${name}`,
        message: `must NOT have more than ${DEFAULT_PARAM_MAX_LENGTH} characters (the default bound; set maxLength in params_schema to change it)`,
      });
    }
    const authored =
      prop[ALLOW_LEADING_DASH] === true ||
      (Array.isArray(prop.enum) && prop.enum.includes(value)) ||
      prop.const === value;
    if (bareParams.has(name) && value.startsWith('-') && !authored) {
      problems.push({
        field: `params.${name}`,
        message: `must not start with "-": the template passes it as an argument, where it would be read as an option (allow it with "${ALLOW_LEADING_DASH}": true in params_schema)`,
      });
    }
    const pathProblem = pathParams?.has(name) ? kitPathProblem(value) : undefined;
    if (pathProblem) problems.push({ field: `params.${name}`, message: `${pathProblem}` });
  }
  return problems;
}
