/**
 * Where a placeholder stands in a shell script, and whether a value can stand there as data.
 *
 * An allow-list, not a clever parser: a placeholder is accepted only as (part of) an ordinary word — an
 * argument of a command whose name is written literally and is not an interpreter, a redirection target, an
 * assignment value, a `for` list or a `case` word — unquoted or inside double quotes, in a command or
 * pipeline where no interpreter appears. There it is rendered as a double-quoted reference to the value's
 * environment variable, and the shell never parses the value. In an arithmetic context (`$((…))`, `((…))`,
 * `[[ … ]]`, `let`, `${…}`, array subscripts) it must be an integer param, rendered as its digits. Anything
 * else — inside single quotes, backticks or `$'…'`, a quoted here-document, a here-document read by anything
 * but `cat`/`tee`, the name of the command, an argument of `sh`, `python3 -c`, `awk`, `eval`, `sudo`,
 * `xargs`… anywhere in the pipeline — is refused with the offset and a sentence saying why. When the scanner
 * meets a construct it does not model, the placeholder is refused rather than guessed at.
 */
import {
  findPlaceholders,
  guidance,
  interpreterName,
  isCodeVariable,
  type Namespace,
  type PlaceholderAt,
} from './placeholders.js';

/** How an accepted placeholder is rendered. */
export type PlacementMode = 'word' | 'dq' | 'heredoc' | 'int';

/** An accepted placeholder: its span, how to render it, and whether it begins an argument (`-` matters there). */
export interface ShellPlacement extends PlaceholderAt {
  mode: PlacementMode;
  /** The value starts an argument of a command: a value starting with `-` would be read as an option. */
  bare: boolean;
}

/** A refused placeholder: where it is and why. */
export interface ShellRefusal extends PlaceholderAt {
  message: string;
}

export interface ShellAnalysis {
  placements: ShellPlacement[];
  refusals: ShellRefusal[];
}

export interface ShellAnalysisOptions {
  /**
   * Params declared `type: integer` (at template save). When given, an arithmetic placeholder naming any
   * other param is refused; when absent (the worker, rendering), it is accepted and the renderer requires
   * the value itself to be an integer.
   */
  integerParams?: ReadonlySet<string>;
}

interface Word {
  start: number;
  end: number;
  /** The text with quotes removed, when the word has no expansion at all; else null. */
  literal: string | null;
  assignment?: { name: string };
  redirect: boolean;
}

interface Command {
  kind: 'simple' | 'arith' | 'cond' | 'case' | 'pattern';
  words: Word[];
  pipeline: Pipeline;
}

interface Pipeline {
  commands: Command[];
  parent: Pipeline | undefined;
}

/** A command (and word of it) a placeholder is nested in, through `$(…)`, `<(…)` or a here-document body. */
interface Enclosing {
  command: Command;
  word: Word | undefined;
  heredoc: boolean;
}

interface Found extends PlaceholderAt {
  mode: PlacementMode;
  command: Command;
  word: Word | undefined;
  enclosing: Enclosing[];
  refused?: string;
}

const RESERVED = new Set([
  '!',
  '{',
  '}',
  'if',
  'then',
  'elif',
  'else',
  'fi',
  'do',
  'done',
  'while',
  'until',
  'time',
]);
const LIST_COMMANDS = new Set(['for', 'select', 'case']);
const DECLARATIONS = new Set(['declare', 'typeset', 'local', 'readonly', 'export']);
/** Builtin options whose next word is a variable name (bash evaluates subscripts in names) or a program. */
const NAME_OPTIONS: Record<string, Set<string>> = {
  printf: new Set(['-v']),
  wait: new Set(['-p']),
  test: new Set(['-v', '-R']),
  '[': new Set(['-v', '-R']),
  find: new Set(['-exec', '-execdir', '-ok', '-okdir']),
};
// Sticky: matched at the scanner's position without slicing the script.
const ASSIGNMENT = /([A-Za-z_][A-Za-z0-9_]*)(\[[^\]\n]*\])?\+?=/y;
const REDIRECT = /(?:[0-9]+|\{[A-Za-z_][A-Za-z0-9_]*\})?(<<<|<<-|<<|<>|<&|>&|>>|>\||&>>|&>|<|>)/y;
const OPERATOR = /(;;&|;;|;&|;|&&|\|\||\|&|\||&(?!>))/y;
const FUNCTION_PARENS = /\(\s*\)/y;
const PLACEHOLDER_AT = /\{\{\s*(params|secrets)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/y;

/** A sticky regex matched at `at`. */
function stickyAt(re: RegExp, text: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(text);
}
const DELIMITERS = ' \t\n;&|<>()';
// bash sets attributes (-i integer: assignments are arithmetic; -n nameref: the value names a variable).
const ATTRIBUTES =
  /(?:^|[\s;&|(])(?:declare|typeset|local|readonly|export)\s+(?:[^\n;&|]*\s)?[-+][A-Za-z]*[in]/;

class Scanner {
  private i = 0;
  private end: number;
  private readonly found: Found[] = [];
  private readonly covered = new Set<number>();
  private readonly pipelines: Pipeline[] = [];
  private readonly heredocs: { delimiter: string; quoted: boolean; stripTabs: boolean; command: Command }[] =
    [];
  private forceInt = 0;
  private current!: Command;
  private word: Word | undefined;
  private inHeredoc = false;
  private readonly enclosing: Enclosing[] = [];

  constructor(private readonly s: string) {
    this.end = s.length;
  }

  run(): { found: Found[]; covered: Set<number> } {
    this.parseList(null, undefined);
    return { found: this.found, covered: this.covered };
  }

  private at(text: string): boolean {
    return this.s.startsWith(text, this.i) && this.i + text.length <= this.end;
  }

  private newPipeline(parent: Pipeline | undefined): Pipeline {
    const pipeline: Pipeline = { commands: [], parent };
    this.pipelines.push(pipeline);
    return pipeline;
  }

  private newCommand(pipeline: Pipeline): Command {
    const command: Command = { kind: 'simple', words: [], pipeline };
    pipeline.commands.push(command);
    return command;
  }

  /** A placeholder at `i`, if one starts there; recorded with the context it stands in. */
  private placeholder(mode: PlacementMode, refused?: string): boolean {
    const m = stickyAt(PLACEHOLDER_AT, this.s, this.i);
    if (!m || this.i + m[0].length > this.end) return false;
    const start = this.i;
    this.i += m[0].length;
    this.covered.add(start);
    const found: Found = {
      ns: m[1] as Namespace,
      name: m[2]!,
      start,
      end: this.i,
      mode: this.forceInt > 0 && mode !== 'heredoc' ? 'int' : mode,
      command: this.current,
      word: this.word,
      enclosing: [...this.enclosing],
    };
    if (refused) found.refused = refused;
    if (this.word) this.word.literal = null;
    this.found.push(found);
    return true;
  }

  /** Skip a region where no placeholder can be made safe; any placeholder inside is refused with `why`. */
  private refuseIn(start: number, end: number, why: string): void {
    for (const p of findPlaceholders(this.s.slice(start, end))) {
      this.covered.add(start + p.start);
      this.found.push({
        ...p,
        start: start + p.start,
        end: start + p.end,
        mode: 'word',
        command: this.current,
        word: this.word,
        enclosing: [...this.enclosing],
        refused: why,
      });
    }
  }

  /** A list of pipelines up to `term` (`)` of `$(…)`, a subshell) or the end. */
  private parseList(term: ')' | null, parent: Pipeline | undefined): void {
    const saved = { current: this.current, word: this.word, inHeredoc: this.inHeredoc };
    if (parent) this.enclosing.push({ command: this.current, word: this.word, heredoc: this.inHeredoc });
    this.inHeredoc = false;
    let pipeline = this.newPipeline(parent);
    this.current = this.newCommand(pipeline);
    this.word = undefined;
    let caseDepth = 0;
    const endPipeline = () => {
      pipeline = this.newPipeline(parent);
      this.current = this.newCommand(pipeline);
    };
    while (this.i < this.end) {
      const c = this.s[this.i]!;
      if (c === ' ' || c === '\t') {
        this.i++;
        continue;
      }
      if (this.at('\\\n')) {
        this.i += 2;
        continue;
      }
      if (c === '\n') {
        this.i++;
        this.readHeredocs();
        endPipeline();
        continue;
      }
      if (c === '#') {
        const nl = this.s.indexOf('\n', this.i);
        this.i = nl === -1 || nl > this.end ? this.end : nl;
        continue;
      }
      if (c === ')') {
        this.i++;
        if (caseDepth > 0) {
          this.current.kind = 'pattern';
          endPipeline();
          continue;
        }
        if (term === ')') break;
        endPipeline();
        continue;
      }
      const op = stickyAt(OPERATOR, this.s, this.i);
      if (op) {
        this.i += op[1]!.length;
        if (op[1] === '|' || op[1] === '|&') this.current = this.newCommand(pipeline);
        else endPipeline();
        continue;
      }
      const words = this.current.words;
      const first = words.find((w) => !w.redirect);
      if (c === '(') {
        if (this.at('((') && (words.length === 0 || (words.length === 1 && first?.literal === 'for'))) {
          this.i += 2;
          if (words.length === 0) this.current.kind = 'arith';
          this.arith('))');
          continue;
        }
        if (words.length === 0) {
          this.i++;
          this.parseList(')', pipeline);
          continue;
        }
        // `name ()` of a function definition: the body is a new command.
        const fn = stickyAt(FUNCTION_PARENS, this.s, this.i);
        this.i += fn ? fn[0].length : 1;
        endPipeline();
        continue;
      }
      const redirect = stickyAt(REDIRECT, this.s, this.i);
      if (redirect && !this.at('<(') && !this.at('>(')) {
        this.i += redirect[0].length;
        while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++;
        const target = this.readWord();
        target.redirect = true;
        if (redirect[1] === '<<' || redirect[1] === '<<-') {
          const raw = this.s.slice(target.start, target.end);
          this.heredocs.push({
            delimiter: raw.replace(/['"\\]/g, ''),
            quoted: /['"\\]/.test(raw),
            stripTabs: redirect[1] === '<<-',
            command: this.current,
          });
        }
        words.push(target);
        continue;
      }
      const word = this.readWord();
      words.push(word);
      if (word === words.find((w) => !w.redirect)) {
        if (word.literal === '[[') this.cond();
        else if (word.literal === 'case') {
          this.current.kind = 'case';
          caseDepth++;
        } else if (word.literal === 'esac') caseDepth = Math.max(0, caseDepth - 1);
      }
    }
    if (parent) this.enclosing.pop();
    Object.assign(this, saved);
  }

  /** `[[ … ]]`: its operators are not command separators, and bash evaluates `-eq` operands (etc.) as arithmetic. */
  private cond(): void {
    this.current.kind = 'cond';
    this.forceInt++;
    while (this.i < this.end) {
      const c = this.s[this.i]!;
      if (c === ' ' || c === '\t' || c === '\n') {
        this.i++;
        continue;
      }
      if (this.at(']]')) {
        this.i += 2;
        break;
      }
      if ('()!<>&|'.includes(c)) {
        this.i++;
        continue;
      }
      this.current.words.push(this.readWord());
    }
    this.forceInt--;
  }

  /** One word: its quoting segments and expansions, each placeholder recorded in its context. */
  private readWord(): Word {
    const word: Word = { start: this.i, end: this.i, literal: '', redirect: false };
    const outer = this.word;
    this.word = word;
    let literal = '';
    const assignment = stickyAt(ASSIGNMENT, this.s, this.i);
    if (assignment) {
      word.assignment = { name: assignment[1]! };
      if (assignment[2]) {
        // A subscript is arithmetic (`a[$(cmd)]=1` runs cmd).
        this.forceInt++;
        this.i = word.start + assignment[1]!.length;
        this.scanFor(this.i + assignment[2].length);
        this.forceInt--;
      }
      literal = assignment[0];
      this.i = word.start + assignment[0].length;
      if (this.at('(')) {
        // A compound array assignment `a=(…)`: its elements and `[k]=` keys are not modelled here.
        const close = this.matching(this.i, '(', ')');
        this.refuseIn(
          this.i,
          close,
          'is inside a compound array assignment a=(…), which this analyzer does not model',
        );
        this.i = close;
        word.literal = null;
      }
    }
    while (this.i < this.end && !DELIMITERS.includes(this.s[this.i]!)) {
      const c = this.s[this.i]!;
      if (this.placeholder('word')) continue;
      if (c === '\\') {
        literal += this.s[this.i + 1] ?? '';
        this.i += 2;
      } else if (c === "'") {
        const close = this.s.indexOf("'", this.i + 1);
        const stop = close === -1 || close >= this.end ? this.end : close + 1;
        this.refuseIn(
          this.i,
          stop,
          'is inside single quotes, where the value would have to be spliced into the text',
        );
        literal += this.s.slice(this.i + 1, stop - 1);
        this.i = stop;
      } else if (this.at("$'")) {
        const stop = this.closeAnsi(this.i + 2);
        this.refuseIn(this.i, stop, "is inside $'…' quotes");
        word.literal = null;
        this.i = stop;
      } else if (c === '"' || this.at('$"')) {
        this.i += c === '"' ? 1 : 2;
        literal += this.doubleQuoted(false);
      } else if (c === '$') {
        this.expansion();
        word.literal = null;
      } else if (c === '`') {
        const stop = this.closeBacktick(this.i + 1);
        this.refuseIn(this.i, stop, 'is inside backticks; use $(…) with the value in double quotes');
        this.i = stop;
        word.literal = null;
      } else if ((c === '<' || c === '>') && this.s[this.i + 1] === '(') {
        this.i += 2;
        this.parseList(')', this.current.pipeline);
        word.literal = null;
      } else if (this.s[this.i + 1] === '(' && '@!+*?'.includes(c)) {
        const close = this.matching(this.i + 1, '(', ')');
        this.refuseIn(this.i, close, 'is inside an extended glob pattern');
        this.i = close;
        word.literal = null;
      } else {
        literal += c;
        this.i++;
      }
    }
    // A `(`, `<` or `>` right after a word that is not a delimiter in context would loop: consume it.
    if (this.i === word.start && this.i < this.end) this.i++;
    word.end = this.i;
    if (word.literal !== null) word.literal = literal;
    this.word = outer;
    return word;
  }

  /** Text of a double-quoted string (or an unquoted here-document body, `heredoc`), up to its end. */
  private doubleQuoted(heredoc: boolean): string {
    let text = '';
    while (this.i < this.end) {
      const c = this.s[this.i]!;
      if (!heredoc && c === '"') {
        this.i++;
        return text;
      }
      if (this.placeholder(heredoc ? 'heredoc' : 'dq')) {
        if (this.word) this.word.literal = null;
        continue;
      }
      if (c === '\\') {
        text += this.s[this.i + 1] ?? '';
        this.i += 2;
      } else if (c === '$') {
        this.expansion();
        if (this.word) this.word.literal = null;
      } else if (c === '`') {
        const stop = this.closeBacktick(this.i + 1);
        this.refuseIn(this.i, stop, 'is inside backticks; use $(…) with the value in double quotes');
        this.i = stop;
      } else {
        text += c;
        this.i++;
      }
    }
    return text;
  }

  /** At a `$`: `$((…))`, `$[…]`, `$(…)`, `${…}`, or a plain `$name`. */
  private expansion(): void {
    if (this.at('$((')) {
      this.i += 3;
      this.arith('))');
    } else if (this.at('$[')) {
      this.i += 2;
      this.arith(']');
    } else if (this.at('$(')) {
      this.i += 2;
      this.parseList(')', this.current.pipeline);
    } else if (this.at('${')) {
      // Offsets, lengths and subscripts inside ${…} are arithmetic; the analyzer treats all of it so.
      const close = this.matching(this.i + 1, '{', '}');
      this.forceInt++;
      this.i += 2;
      this.scanFor(close - 1);
      this.forceInt--;
      this.i = close;
    } else {
      this.i++;
    }
  }

  /** Arithmetic up to `close`: every placeholder inside must be an integer. */
  private arith(close: string): void {
    this.forceInt++;
    let depth = 0;
    while (this.i < this.end) {
      if (depth === 0 && this.at(close)) {
        this.i += close.length;
        break;
      }
      const c = this.s[this.i]!;
      if (this.placeholder('int')) continue;
      if (this.at('$(') && !this.at('$((')) {
        this.i += 2;
        this.parseList(')', this.current.pipeline);
        continue;
      }
      if (c === '(' || c === '[') depth++;
      else if ((c === ')' || c === ']') && depth > 0) depth--;
      this.i++;
    }
    this.forceInt--;
  }

  /** Placeholders up to `stop` (exclusive), in the current (integer) context; nested quoting is not modelled. */
  private scanFor(stop: number): void {
    while (this.i < stop) if (!this.placeholder('int')) this.i++;
  }

  /** The index just past the `close` matching the `open` at `at`, skipping quoted text. */
  private matching(at: number, open: string, close: string): number {
    let depth = 0;
    for (let j = at; j < this.end; j++) {
      const c = this.s[j]!;
      if (c === '\\') j++;
      else if (c === "'") {
        const q = this.s.indexOf("'", j + 1);
        j = q === -1 ? this.end : q;
      } else if (c === open) depth++;
      else if (c === close && --depth === 0) return j + 1;
    }
    return this.end;
  }

  private closeBacktick(from: number): number {
    for (let j = from; j < this.end; j++) {
      if (this.s[j] === '\\') j++;
      else if (this.s[j] === '`') return j + 1;
    }
    return this.end;
  }

  private closeAnsi(from: number): number {
    for (let j = from; j < this.end; j++) {
      if (this.s[j] === '\\') j++;
      else if (this.s[j] === "'") return j + 1;
    }
    return this.end;
  }

  /** After a newline: the bodies of the here-documents opened on the line, one after the other. */
  private readHeredocs(): void {
    for (const doc of this.heredocs.splice(0)) {
      const bodyStart = this.i;
      let bodyEnd = this.end;
      let next = this.end;
      for (let j = this.i; j < this.end;) {
        const nl = this.s.indexOf('\n', j);
        const lineEnd = nl === -1 || nl > this.end ? this.end : nl;
        const line = this.s.slice(j, lineEnd);
        if ((doc.stripTabs ? line.replace(/^\t+/, '') : line) === doc.delimiter) {
          bodyEnd = j;
          next = lineEnd === this.end ? this.end : lineEnd + 1;
          break;
        }
        j = lineEnd + 1;
      }
      const saved = { current: this.current, word: this.word, end: this.end, inHeredoc: this.inHeredoc };
      this.current = doc.command;
      this.word = undefined;
      this.inHeredoc = true;
      if (doc.quoted) {
        this.refuseIn(
          bodyStart,
          bodyEnd,
          'is inside a quoted here-document, where nothing is expanded and the value would be spliced into the text',
        );
      } else {
        this.end = bodyEnd;
        this.i = bodyStart;
        this.doubleQuoted(true);
      }
      Object.assign(this, saved);
      this.i = next;
    }
  }
}

/** The first interpreter a pipeline (or one enclosing it) runs, if any. */
function interpreterOf(pipeline: Pipeline | undefined): string | undefined {
  for (let p = pipeline; p; p = p.parent) {
    for (const command of p.commands) {
      if (command.kind === 'case' || command.kind === 'pattern') continue;
      const words = command.words.filter((w) => !w.redirect);
      let k = 0;
      while (k < words.length && (RESERVED.has(words[k]!.literal ?? '') || words[k]!.assignment)) k++;
      for (const [index, word] of words.entries()) {
        if (word.literal === null) continue;
        const name = interpreterName(word.literal, index === k ? 'command' : 'argument');
        if (name) return name;
      }
    }
  }
  return undefined;
}

/** Why a placeholder in a simple command cannot stand where it is, or undefined when it can. */
function commandRefusal(
  found: Pick<Found, 'command' | 'word' | 'mode' | 'start'>,
  script: string,
  attributes: boolean,
): { refusal?: string; int?: boolean; bare?: boolean } {
  const { command, word } = found;
  if (
    command.kind === 'case' ||
    command.kind === 'pattern' ||
    command.kind === 'arith' ||
    command.kind === 'cond'
  )
    return {};
  const words = command.words.filter((w) => !w.redirect);
  let k = 0;
  while (k < words.length && (RESERVED.has(words[k]!.literal ?? '') || words[k]!.assignment)) k++;
  const name = words[k]?.literal ?? null;
  if (found.mode === 'heredoc') {
    if (name !== 'cat' && name !== 'tee')
      return {
        refusal: `is inside a here-document read by ${name ? `\`${name}\`` : 'a command that is not named literally'}; only a here-document read by cat or tee is treated as data`,
      };
    return {};
  }
  if (!word || word.redirect) return {};
  if (word.assignment && (words.indexOf(word) < k || (name !== null && DECLARATIONS.has(name)))) {
    if (isCodeVariable(word.assignment.name))
      return {
        refusal: `is assigned to ${word.assignment.name}, whose value is code or a place to load code from`,
      };
    if (
      name !== null &&
      DECLARATIONS.has(name) &&
      words.slice(k + 1).some((w) => /^[-+][A-Za-z]*[inaA]/.test(w.literal ?? ''))
    )
      return { int: true };
    if (attributes) return { int: true };
    return {};
  }
  const index = words.indexOf(word);
  if (index === k) return { refusal: 'names the command to run; a param cannot choose the program' };
  if (name === null)
    return {
      refusal:
        'is an argument of a command whose name is not written literally, so it cannot be told whether that command runs its arguments as code',
    };
  if (LIST_COMMANDS.has(name)) return {};
  if (DECLARATIONS.has(name))
    return {
      refusal: `is an argument of \`${name}\`, which takes variable names (bash evaluates their subscripts)`,
    };
  const options = NAME_OPTIONS[name];
  if (options && index > 0 && options.has(words[index - 1]!.literal ?? ''))
    return {
      refusal: `follows \`${name} ${words[index - 1]!.literal}\`, which takes a variable name or a program there`,
    };
  const before = script.slice(word.start, found.start);
  return { bare: /^(\$?")*$/.test(before) };
}

/** Analyze where each placeholder of a shell script stands. */
export function analyzeShellScript(script: string, options: ShellAnalysisOptions = {}): ShellAnalysis {
  const { found, covered } = new Scanner(script).run();
  const attributes = ATTRIBUTES.test(script);
  const placements: ShellPlacement[] = [];
  const refusals: ShellRefusal[] = [];
  const refuse = (f: PlaceholderAt, why: string) =>
    refusals.push({
      ns: f.ns,
      name: f.name,
      start: f.start,
      end: f.end,
      message: `{{${f.ns}.${f.name}}} ${why}; ${guidance(f.ns, f.name)}`,
    });
  for (const f of found) {
    if (f.refused) {
      refuse(f, f.refused);
      continue;
    }
    const interpreter = interpreterOf(f.command.pipeline);
    if (interpreter) {
      refuse(
        f,
        `is part of a command or pipeline that runs \`${interpreter}\`, which would read the value as code or as a program to run`,
      );
      continue;
    }
    const { refusal, int, bare } = commandRefusal(f, script, attributes);
    if (refusal) {
      refuse(f, refusal);
      continue;
    }
    // Inside $(…) or <(…): the substitution's output lands where it stands in the enclosing command.
    const outer = f.enclosing
      .map((e) =>
        commandRefusal(
          {
            command: e.command,
            word: e.word,
            mode: e.heredoc ? 'heredoc' : 'word',
            start: e.word?.start ?? 0,
          },
          script,
          attributes,
        ),
      )
      .find((r) => r.refusal || r.int);
    if (outer?.refusal) {
      refuse(f, `is inside a command substitution whose output ${outer.refusal.replace(/^is /, 'is ')}`);
      continue;
    }
    const mode: PlacementMode = int || outer?.int ? 'int' : f.mode;
    if (mode === 'int') {
      if (f.ns === 'secrets') {
        refuse(f, 'is in an arithmetic context (bash evaluates the text there as code)');
        continue;
      }
      if (options.integerParams && !options.integerParams.has(f.name)) {
        refuse(
          f,
          `is in an arithmetic context ($((…)), ((…)), [[ … ]], let, \${…}, a subscript or an integer variable), where bash evaluates the text as code; declare the param "type": "integer" in params_schema`,
        );
        continue;
      }
    }
    placements.push({
      ns: f.ns,
      name: f.name,
      start: f.start,
      end: f.end,
      mode,
      bare: mode !== 'int' && bare === true,
    });
  }
  // Whatever the scanner did not walk through (a comment) stays text; anything else it missed is refused.
  const comments = new Set<number>();
  for (const p of findPlaceholders(script)) {
    if (covered.has(p.start)) continue;
    const lineStart = script.lastIndexOf('\n', p.start - 1) + 1;
    if (/(^|\s)#/.test(script.slice(lineStart, p.start))) comments.add(p.start);
    else refuse(p, 'stands where the analyzer cannot tell how the shell will read it');
  }
  placements.sort((a, b) => a.start - b.start);
  refusals.sort((a, b) => a.start - b.start);
  return { placements, refusals };
}

/** 1-based line and column of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}
