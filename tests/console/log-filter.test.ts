import t from 'tap';
import { LogFilter, type LogQuery } from '../../packages/console/src/features/logs/log-filter.js';
import type { EventT } from '../../packages/console/src/lib/types.js';

const LEVELS = ['debug', 'info', 'warn', 'error'];
const WORDS = ['alpha', 'beta', 'line 12', 'line 123', 'LINE 1', 'gamma', 'Beta-2'];

/** A deterministic pseudo-random sequence (the failing seed is printed). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** What the incremental filter must always equal: the lines and matches computed from scratch. */
function fromScratch(events: EventT[], q: LogQuery) {
  const shown: number[] = [];
  const matches: number[] = [];
  events.forEach((e, i) => {
    if (!q.levels.has(e.level)) return;
    const hit = q.needle !== '' && e.message.toLowerCase().includes(q.needle);
    if (q.onlyMatches && q.needle && !hit) return;
    if (hit) matches.push(shown.length);
    shown.push(i);
  });
  return { shown, matches };
}

t.test(
  'the incremental log filter equals a full recompute after any mix of appends and query changes',
  async (t) => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = rng(seed);
      const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
      const events: EventT[] = [];
      const lower: string[] = [];
      const filter = new LogFilter();
      let query: LogQuery = { levels: new Set(LEVELS), needle: '', onlyMatches: false };
      for (let step = 0; step < 40; step++) {
        const r = rand();
        if (r < 0.4) {
          for (let n = Math.floor(rand() * 20); n > 0; n--) {
            const message = `${pick(WORDS)} ${Math.floor(rand() * 2000)} ${pick(WORDS)}`;
            events.push({ seq: events.length + 1, level: pick(LEVELS), message } as EventT);
            lower.push(message.toLowerCase());
          }
        } else if (r < 0.75) {
          // Typing (extends the term), deleting (shortens it) or a new term.
          const needle =
            rand() < 0.5
              ? query.needle + pick(['l', 'i', 'n', 'e', ' ', '1', '2', 'a'])
              : query.needle.slice(0, -1);
          query = { ...query, needle: rand() < 0.1 ? pick(WORDS).toLowerCase() : needle };
        } else if (r < 0.9) {
          query = { ...query, levels: new Set(LEVELS.filter(() => rand() < 0.7)) };
        } else {
          query = { ...query, onlyMatches: !query.onlyMatches };
        }
        filter.update(events, lower, query);
        const want = fromScratch(events, query);
        if (
          JSON.stringify(filter.shown) !== JSON.stringify(want.shown) ||
          JSON.stringify(filter.matches) !== JSON.stringify(want.matches)
        ) {
          t.fail(
            `seed ${seed}, step ${step}: query ${JSON.stringify({ ...query, levels: [...query.levels] })}`,
          );
          return;
        }
      }
    }
    t.pass('200 random sequences of 40 steps agree');
  },
);
