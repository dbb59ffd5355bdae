/**
 * Just enough markdown for the validator: ATX headings and list items with their 1-based line numbers,
 * ignoring anything inside fenced code blocks (a `# comment` in a shell example is not a heading).
 */

export interface Heading {
  level: number;
  text: string;
  line: number;
}

export interface ListItem {
  /** Leading spaces: nested items are indented. */
  indent: number;
  /** The checkbox character (` `, `x`, `~`, …) when the item is a task-style checkbox. */
  checkbox?: string;
  text: string;
  line: number;
}

/** A line outside code fences, classified. */
export type Line =
  | { kind: 'heading'; heading: Heading }
  | { kind: 'item'; item: ListItem }
  | { kind: 'text'; text: string; line: number }
  | { kind: 'blank'; line: number };

const FENCE = /^\s{0,3}(```|~~~)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const ITEM = /^(\s*)(?:[-*+]|\d+[.)])\s+(?:\[(.)\]\s+)?(.*)$/;

/** Every line of `source` outside code fences, classified. */
export function scanLines(source: string): Line[] {
  const out: Line[] = [];
  let fence: string | undefined;
  source.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const fenceMatch = FENCE.exec(raw);
    if (fenceMatch) {
      if (!fence) fence = fenceMatch[1];
      else if (fence === fenceMatch[1]) fence = undefined;
      return;
    }
    if (fence) return;
    if (raw.trim() === '') {
      out.push({ kind: 'blank', line });
      return;
    }
    const heading = HEADING.exec(raw);
    if (heading) {
      out.push({ kind: 'heading', heading: { level: heading[1]!.length, text: heading[2]!, line } });
      return;
    }
    const item = ITEM.exec(raw);
    if (item) {
      const checkbox = item[2];
      out.push({
        kind: 'item',
        item: {
          indent: item[1]!.replace(/\t/g, '    ').length,
          ...(checkbox !== undefined ? { checkbox } : {}),
          text: item[3]!.trim(),
          line,
        },
      });
      return;
    }
    out.push({ kind: 'text', text: raw.trim(), line });
  });
  return out;
}

/** A heading and the lines under it, up to the next heading of the same or a higher level. */
export interface Section {
  heading: Heading;
  body: Line[];
}

/** The sections of `lines` at `level` (2 for `##`). */
export function sectionsAt(lines: Line[], level: number): Section[] {
  const sections: Section[] = [];
  let current: Section | undefined;
  for (const line of lines) {
    if (line.kind === 'heading' && line.heading.level <= level) {
      current = line.heading.level === level ? { heading: line.heading, body: [] } : undefined;
      if (current) sections.push(current);
      continue;
    }
    current?.body.push(line);
  }
  return sections;
}

/** Does a section have anything in it besides blank lines? */
export function hasContent(section: Section): boolean {
  return section.body.some((line) => line.kind !== 'blank');
}

/** Heading text reduced for matching: lower case, without numbering, emphasis or trailing punctuation. */
export function normalizeHeading(text: string): string {
  return text
    .toLowerCase()
    .replace(/[*_`]/g, '')
    .replace(/^\s*(\d+(\.\d+)*[.)]?|[ivx]+\.)\s+/, '')
    .replace(/[:.]+\s*$/, '')
    .trim();
}
