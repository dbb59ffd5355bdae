/**
 * What a placeholder is, and the words that decide where one may stand: the interpreters (a command that
 * runs code it is given), the variables whose value is code, and the guidance each refusal gives.
 */

/** `{{params.name}}` or `{{secrets.NAME}}`, spaces allowed inside the braces. */
export const PLACEHOLDER_SOURCE = String.raw`\{\{\s*(params|secrets)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`;
/** Something that starts like a placeholder; one that is not a whole valid placeholder is refused at save. */
export const PLACEHOLDER_START = /\{\{\s*(?:params|secrets)\b/g;

export type Namespace = 'params' | 'secrets';

/** A placeholder found in a text: where it is and what it names. */
export interface PlaceholderAt {
  ns: Namespace;
  name: string;
  start: number;
  end: number;
}

/** Every placeholder in a text, in order. */
export function findPlaceholders(text: string): PlaceholderAt[] {
  const found: PlaceholderAt[] = [];
  for (const m of text.matchAll(new RegExp(PLACEHOLDER_SOURCE, 'g')))
    found.push({ ns: m[1] as Namespace, name: m[2]!, start: m.index, end: m.index + m[0].length });
  return found;
}

/** Text that starts like a placeholder but is not one (`{{params.my-env}}`): the author meant something. */
export function malformedPlaceholders(text: string): number[] {
  const good = new Set(findPlaceholders(text).map((p) => p.start));
  return [...text.matchAll(PLACEHOLDER_START)].map((m) => m.index).filter((at) => !good.has(at));
}

/** `OCR_SECRET_<NAME>`: the variable a `{{secrets.NAME}}` reference becomes, like `OCR_PARAM_<NAME>`. */
export function secretEnvName(name: string): string {
  return `OCR_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * Programs that run code they are handed (as an argument, an option like `-c`/`-e`, a file or stdin). A
 * placeholder anywhere in a command line (or pipeline) where one of these names appears as a whole word is
 * refused: the analyzer does not try to tell the program text from its data.
 */
const INTERPRETERS = new Set([
  // shells
  'sh',
  'bash',
  'dash',
  'ash',
  'zsh',
  'ksh',
  'mksh',
  'pdksh',
  'yash',
  'posh',
  'fish',
  'csh',
  'tcsh',
  'busybox',
  'toybox',
  'rbash',
  // language runtimes and programmable tools
  'python',
  'python2',
  'python3',
  'pypy',
  'pypy3',
  'perl',
  'ruby',
  'irb',
  'node',
  'nodejs',
  'deno',
  'bun',
  'php',
  'lua',
  'luajit',
  'tclsh',
  'wish',
  'expect',
  'Rscript',
  'julia',
  'groovy',
  'jshell',
  'scala',
  'kotlin',
  'swift',
  'osascript',
  'pwsh',
  'powershell',
  'awk',
  'gawk',
  'mawk',
  'nawk',
  'sed',
  'gsed',
  'jq',
  'yq',
  'gojq',
  'm4',
  'dc',
  'bc',
  'gdb',
  'vim',
  'nvim',
  'emacs',
  // database shells (their argument is SQL)
  'psql',
  'mysql',
  'mariadb',
  'sqlite3',
  'sqlcmd',
  'mongo',
  'mongosh',
  'redis-cli',
  'cqlsh',
  'clickhouse-client',
  'duckdb',
  // programs that run their input or arguments as commands, locally or remotely
  'ssh',
  'xargs',
  'parallel',
  'make',
]);
/**
 * Names that run code only as the command itself: builtins that evaluate, define code or take variable
 * names (bash evaluates subscripts in names), and wrappers whose arguments are another command line.
 */
const COMMAND_INTERPRETERS = new Set([
  'eval',
  'exec',
  'source',
  '.',
  'command',
  'builtin',
  'trap',
  'alias',
  'bind',
  'enable',
  'complete',
  'compgen',
  'fc',
  'coproc',
  'unset',
  'read',
  'mapfile',
  'readarray',
  'getopts',
  'let',
  'shopt',
  'R',
  'vi',
  'ed',
  'ex',
  'env',
  'sudo',
  'doas',
  'su',
  'runuser',
  'timeout',
  'nice',
  'nohup',
  'time',
  'stdbuf',
  'ionice',
  'setsid',
  'chroot',
  'flock',
  'watch',
  'strace',
  'ltrace',
  'script',
  'unbuffer',
  'nsenter',
  'unshare',
  'chpst',
  'entr',
]);
// Versioned names: python3.12, perl5.36, ruby3.3, php8.2, node20, lua5.4.
const VERSIONED_INTERPRETER = /^(python|pypy|perl|ruby|php|node|lua|tclsh|wish)[0-9][0-9.]*$/;

/** The interpreter a literal word names (by basename), if it does in that position. */
export function interpreterName(
  word: string,
  position: 'command' | 'argument' = 'argument',
): string | undefined {
  const base = word.slice(word.lastIndexOf('/') + 1);
  if (INTERPRETERS.has(base) || VERSIONED_INTERPRETER.test(base)) return base;
  return position === 'command' && COMMAND_INTERPRETERS.has(word) ? word : undefined;
}

/**
 * Variables whose value is code, a program or a search path to load code from: a placeholder in their value
 * (in a script's assignment or a step's `env`) is refused. `PS4` runs `$(…)` under `set -x`, `BASH_ENV`
 * names a file bash sources, `LD_PRELOAD` a library the loader runs, and so on.
 */
const CODE_VARIABLES = new Set([
  'PS1',
  'PS2',
  'PS3',
  'PS4',
  'PROMPT_COMMAND',
  'BASH_ENV',
  'ENV',
  'SHELLOPTS',
  'BASHOPTS',
  'IFS',
  'PATH',
  'CDPATH',
  'GLOBIGNORE',
  'FPATH',
  'HOME',
  'SHELL',
  'EDITOR',
  'VISUAL',
  'PAGER',
  'MANPAGER',
  'GIT_PAGER',
  'BROWSER',
  'TERMINAL',
  'PYTHONPATH',
  'PYTHONSTARTUP',
  'PYTHONHOME',
  'PERL5LIB',
  'PERL5OPT',
  'PERLLIB',
  'RUBYOPT',
  'RUBYLIB',
  'NODE_OPTIONS',
  'NODE_PATH',
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS',
  'CLASSPATH',
  'GIT_SSH',
  'GIT_SSH_COMMAND',
  'GIT_EXEC_PATH',
  'GIT_EXTERNAL_DIFF',
  'GIT_ASKPASS',
  'SSH_ASKPASS',
  'GIT_CONFIG_PARAMETERS',
  'GIT_CONFIG',
  'GIT_CONFIG_GLOBAL',
  'GIT_CONFIG_SYSTEM',
  'GIT_PROXY_COMMAND',
  'GIT_TEMPLATE_DIR',
  'MAKEFLAGS',
  'LESSOPEN',
  'LESSCLOSE',
  'TZDIR',
  'LOCPATH',
  'GCONV_PATH',
  'HOSTALIASES',
  'RESOLV_HOST_CONF',
  'OPENSSL_CONF',
  'OPENSSL_ENGINES',
  'PYTHONINSPECT',
  'PYTHONWARNINGS',
  'PERLDB_OPTS',
  'PERL5DB',
  'NODE_REPL_EXTERNAL_MODULE',
  'AWKPATH',
  'SSLKEYLOGFILE',
]);
const CODE_VARIABLE_PREFIX = /^(LD_|DYLD_|BASH_FUNC_|GIT_CONFIG_(KEY|VALUE)_|OCR_)/;

/** Is a variable's value code (or a way to load code)? `OCR_*` names are the worker's own and not to be set from params. */
export function isCodeVariable(name: string): boolean {
  return CODE_VARIABLES.has(name) || CODE_VARIABLE_PREFIX.test(name);
}

/** The variable a placeholder's value travels in, for the guidance of a refusal. */
export function variableOf(ns: Namespace, name: string): string {
  return ns === 'secrets'
    ? secretEnvName(name)
    : `OCR_PARAM_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** How to pass a value instead, in one sentence the refusal ends with. */
export function guidance(ns: Namespace, name: string): string {
  const v = variableOf(ns, name);
  return `pass it as data instead: in a shell, "$${v}" (double-quoted, outside any quotes or program text); in awk, -v x="$${v}"; in Python, os.environ["${v}"]; in Node, process.env.${v}`;
}
