import type { EventT } from '../../lib/types.js';

/** What the log shows: the level filter, the search term (lowercased) and "only matches". */
export interface LogQuery {
  levels: ReadonlySet<string>;
  needle: string;
  onlyMatches: boolean;
}

/**
 * The log's visible lines and search matches, kept up to date incrementally, so that 100,000 lines cost
 * little per frame and per keystroke:
 * - lines that arrive are filtered on their own (the ones before are not looked at again);
 * - a search term that extends the previous one (typing) only rechecks the previous matches;
 * - messages are lowercased once, as they arrive (`lower`, parallel to the events), never per keystroke.
 * The arrays are appended to in place; `revision` changes whenever their content changed.
 */
export class LogFilter {
  /** Indices into the events of the lines shown. */
  readonly shown: number[] = [];
  /** Positions in `shown` of the lines that match the search term. */
  matches: number[] = [];
  revision = 0;
  private scanned = 0;
  private query: LogQuery | undefined;

  update(events: readonly EventT[], lower: readonly string[], query: LogQuery): void {
    const before = this.query;
    const sameLines =
      before !== undefined &&
      sameLevels(before.levels, query.levels) &&
      before.onlyMatches === query.onlyMatches &&
      (!query.onlyMatches || before.needle === query.needle);
    if (!sameLines || events.length < this.scanned) {
      this.shown.length = 0;
      this.matches = [];
      this.scanned = 0;
    } else if (before.needle !== query.needle) {
      this.matches = !query.needle
        ? []
        : before.needle && query.needle.includes(before.needle)
          ? this.matches.filter((m) => lower[this.shown[m]!]!.includes(query.needle))
          : this.shown.flatMap((i, m) => (lower[i]!.includes(query.needle) ? [m] : []));
      this.revision++;
    }
    this.query = query;
    if (this.scanned === events.length) return;
    const { levels, needle, onlyMatches } = query;
    for (let i = this.scanned; i < events.length; i++) {
      if (!levels.has(events[i]!.level)) continue;
      const hit = needle !== '' && lower[i]!.includes(needle);
      if (onlyMatches && needle && !hit) continue;
      if (hit) this.matches.push(this.shown.length);
      this.shown.push(i);
    }
    this.scanned = events.length;
    this.revision++;
  }
}

function sameLevels(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((l) => b.has(l));
}
