/**
 * `{{params.x}}` in a shell script, rendered so that no value can ever become shell syntax.
 *
 * Splicing a single-quoted copy of the value (`'…'\''…'`) is only safe where the placeholder is unquoted:
 * inside double quotes (`echo "{{params.x}}"`) the quotes are literal and `$(…)` in the value runs, and in
 * an unquoted here-document the same happens. So a placeholder becomes a reference to the param's
 * environment variable instead (`OCR_PARAM_X`, which shell and docker steps always receive). The result
 * of a parameter expansion is never parsed again as shell code, in any context, so this fails safe: if the
 * light scanner below misjudges a context, the worst outcome is word splitting or a literal `${…}` — never
 * execution. The scanner only picks the quoting that keeps the value one intact word:
 *
 *   unquoted, `$(…)`, backticks   → "${OCR_PARAM_X}"
 *   inside "…"                     → ${OCR_PARAM_X}
 *   inside '…'                     → '"${OCR_PARAM_X}"'   (close, expand quoted, reopen)
 *   unquoted here-document body    → ${OCR_PARAM_X}
 *   quoted here-document body      → refused: nothing expands there, and a raw value could end the document
 *   arithmetic `$((…))` / `((…))`  → integers only (bash evaluates variable text in arithmetic recursively)
 */
import { ParamError } from './param-error.js';
import { paramEnvName } from './env.js';
import { paramText } from './param-text.js';

type Params = Record<string, unknown>;
/** Unquoted, double-quoted, backticks, command substitution, arithmetic, parenthesis inside arithmetic. */
type Context = 'U' | 'D' | 'B' | 'C' | 'A' | 'P';

const PLACEHOLDER = /\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/y;
const HEREDOC = /<<(-?)[ \t]*(['"]?)([^\s'"<>|&;()]+)\2/y;

/** The environment variable a placeholder refers to; the param must exist and its name must not collide. */
function variableFor(name: string, params: Params): string {
  paramText(params, name);
  const variable = paramEnvName(name);
  const other = Object.keys(params).find((key) => key !== name && params[key] !== undefined && paramEnvName(key) === variable);
  if (other !== undefined) throw new ParamError('param_name_collision', `params "${name}" and "${other}" share the variable ${variable}; rename one`);
  return variable;
}

/** A shell script with each placeholder replaced by a safely quoted reference to its param's variable. */
export function renderShellScript(script: string, params: Params): string {
  const out: string[] = [];
  const stack: Context[] = ['U'];
  const top = (): Context => stack[stack.length - 1]!;
  const heredocs: { delimiter: string; quoted: boolean; stripTabs: boolean }[] = [];
  let i = 0;

  const placeholderAt = (at: number): RegExpExecArray | null => {
    PLACEHOLDER.lastIndex = at;
    return PLACEHOLDER.exec(script);
  };
  const reference = (name: string, context: Context | 'S' | 'H' | 'HQ'): string => {
    const variable = variableFor(name, params);
    switch (context) {
      case 'D':
      case 'H':
        return `\${${variable}}`;
      case 'S':
        return `'"\${${variable}}"'`;
      case 'HQ':
        throw new ParamError('unsafe_placeholder', `{{params.${name}}} is inside a quoted here-document, where it cannot be rendered safely; use an unquoted delimiter`);
      case 'A':
      case 'P': {
        const text = paramText(params, name);
        if (!/^-?\d{1,18}$/.test(text)) throw new ParamError('unsafe_placeholder', `{{params.${name}}} is used in arithmetic but its value is not an integer`);
        return text;
      }
      default:
        return `"\${${variable}}"`;
    }
  };
  /** Copy text that cannot contain syntax (a quoted run, a here-document line), rendering placeholders in it. */
  const copyWith = (text: string, context: 'S' | 'H' | 'HQ'): string => text.replace(new RegExp(PLACEHOLDER.source, 'g'), (_, name: string) => reference(name, context));

  while (i < script.length) {
    const match = placeholderAt(i);
    if (match) {
      out.push(reference(match[1]!, top()));
      i += match[0].length;
      continue;
    }
    const ch = script[i]!;
    const state = top();
    const starts = (s: string) => script.startsWith(s, i);
    const push = (text: string, next?: Context) => {
      out.push(text);
      i += text.length;
      if (next) stack.push(next);
    };

    if (ch === '\\') {
      push(script.slice(i, i + 2));
      continue;
    }
    if (state === 'D') {
      if (ch === '"') { stack.pop(); push(ch); }
      else if (starts('$((')) push('$((', 'A');
      else if (starts('$(')) push('$(', 'C');
      else if (ch === '`') push(ch, 'B');
      else push(ch);
      continue;
    }
    if (state === 'A' || state === 'P') {
      if (state === 'A' && starts('))')) { stack.pop(); push('))'); }
      else if (ch === '(') push(ch, 'P');
      else if (ch === ')' && state === 'P') { stack.pop(); push(ch); }
      else push(ch);
      continue;
    }
    // Unquoted, inside $(…) or backticks.
    if (ch === "'") {
      const end = script.indexOf("'", i + 1);
      const stop = end === -1 ? script.length : end + 1;
      out.push(copyWith(script.slice(i, stop), 'S'));
      i = stop;
    } else if (ch === '"') push(ch, 'D');
    else if (starts('$((') || (starts('((') && (i === 0 || /[\s;&|(]/.test(script[i - 1]!)))) push(starts('$') ? '$((' : '((', 'A');
    else if (starts('$(')) push('$(', 'C');
    else if (ch === ')' && state === 'C') { stack.pop(); push(ch); }
    else if (ch === '`') {
      if (state === 'B') stack.pop();
      else stack.push('B');
      push(ch);
    } else if (ch === '#' && (i === 0 || /\s/.test(script[i - 1]!))) {
      // A comment: its quotes mean nothing, so copy it as it is up to the end of the line.
      const end = script.indexOf('\n', i);
      const stop = end === -1 ? script.length : end;
      out.push(copyWith(script.slice(i, stop), 'H'));
      i = stop;
    } else if (starts('<<') && !starts('<<<')) {
      HEREDOC.lastIndex = i;
      const heredoc = HEREDOC.exec(script);
      if (heredoc) {
        heredocs.push({ stripTabs: heredoc[1] === '-', quoted: heredoc[2] !== '' || heredoc[3]!.includes('\\'), delimiter: heredoc[3]!.replace(/\\/g, '') });
        push(heredoc[0]);
      } else push('<<');
    } else if (ch === '\n' && heredocs.length > 0) {
      push(ch);
      // Here-document bodies start after the line that declared them, one after the other.
      for (const doc of heredocs.splice(0)) {
        for (;;) {
          const end = script.indexOf('\n', i);
          const line = script.slice(i, end === -1 ? script.length : end);
          const closing = (doc.stripTabs ? line.replace(/^\t+/, '') : line) === doc.delimiter;
          out.push(closing ? line : copyWith(line, doc.quoted ? 'HQ' : 'H'));
          i = end === -1 ? script.length : end + 1;
          if (end !== -1) out.push('\n');
          if (closing || end === -1) break;
        }
      }
    } else push(ch);
  }
  return out.join('');
}
