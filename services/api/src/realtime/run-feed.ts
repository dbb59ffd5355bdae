import type { Kysely } from 'kysely';
import { readFeedEvents, type Database, type RunEventRow } from '@ocr/db';

/** Someone following a run's events; `cursor` is the last seq it was given. */
export interface FeedSubscriber {
  cursor: number;
  deliver(events: RunEventRow[]): void;
}

const PAGE = 1000;

/**
 * One reader per run per API process: on a hint (NOTIFY, reconnect, fallback tick) it reads the events
 * after its own cursor once and fans them out, so 1,000 subscribers cost one query, not 1,000.
 *
 * Gap-free argument: appends to a run commit in seq order (see appendEvents), so reading "after my
 * cursor" never skips a seq that commits later. A new subscriber first catches up from the database on its
 * own and joins the feed in the same tick in which it has reached the feed's cursor; from then on the feed
 * gives it exactly the events above its cursor, each once.
 */
export class RunFeed {
  readonly subscribers = new Set<FeedSubscriber>();
  private pulling: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly db: Kysely<Database>,
    readonly runId: string,
    public cursor: number,
  ) {}

  /** Catch `sub` up from the database, then attach it. `deliver` must advance `sub.cursor`. */
  async join(sub: FeedSubscriber, isOpen: () => boolean): Promise<void> {
    while (isOpen()) {
      if (sub.cursor >= this.cursor) {
        // Checked and attached in one tick: no feed delivery can slip in between. The feed filters by
        // each subscriber's cursor, so a subscriber that read past the feed gets nothing twice.
        this.subscribers.add(sub);
        return;
      }
      const events = await readFeedEvents(this.db, this.runId, sub.cursor, PAGE);
      if (events.length === 0) {
        this.subscribers.add(sub);
        return;
      }
      sub.deliver(events);
    }
  }

  /**
   * Events this process has just stored (committed) for the run: delivered without reading them back when
   * they follow the feed's cursor directly and no read is in flight. Otherwise false, and the hint that
   * follows every append makes the feed read as usual.
   */
  offer(events: RunEventRow[]): boolean {
    if (this.pulling || events.length === 0 || events[0]!.seq !== this.cursor + 1) return false;
    this.cursor = events[events.length - 1]!.seq;
    this.fanOut(events);
    return true;
  }

  private fanOut(events: RunEventRow[]): void {
    const first = events[0]!.seq;
    for (const sub of this.subscribers) {
      // Usually every subscriber is at the feed's cursor: the same array for all (its frames are built once).
      const fresh = sub.cursor < first ? events : events.filter((e) => e.seq > sub.cursor);
      if (fresh.length > 0) sub.deliver(fresh);
    }
  }

  /** Read what is new and hand it to every subscriber above whose cursor it lies. */
  pull(): Promise<void> {
    if (this.pulling) {
      this.again = true;
      return this.pulling;
    }
    this.pulling = (async () => {
      do {
        this.again = false;
        for (;;) {
          const events = await readFeedEvents(this.db, this.runId, this.cursor, PAGE);
          if (events.length === 0) break;
          this.cursor = events[events.length - 1]!.seq;
          this.fanOut(events);
          if (events.length < PAGE) break;
        }
      } while (this.again);
    })().finally(() => (this.pulling = undefined));
    return this.pulling;
  }
}
