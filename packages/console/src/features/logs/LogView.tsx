import { useMemo, useRef, useState } from 'react';
import { Virtuoso, type VirtuosoHandle } from 'react-virtuoso';
import { useConnection } from '../../lib/realtime.js';
import { useRunEvents } from '../../lib/run-log.js';
import { saveText } from '../../lib/download.js';
import { time } from '../../lib/format.js';
import type { EventT } from '../../lib/types.js';
import { Highlight } from './Highlight.js';
import { eventLine, LEVELS } from './log-format.js';
import { LogFilter } from './log-filter.js';

/**
 * A run's live log: every event over the WebSocket from the last seq seen, virtualised (only visible rows
 * are in the DOM, so 100,000 lines scroll smoothly). Follows the tail until the reader scrolls up.
 */
export function LogView({ runId }: { runId: string }) {
  const { stream } = useConnection();
  const { events, lower, version, lastSeq } = useRunEvents(stream, runId);
  const [levels, setLevels] = useState<Set<string>>(() => new Set(LEVELS));
  const [term, setTerm] = useState('');
  const [onlyMatches, setOnlyMatches] = useState(false);
  const [atBottom, setAtBottom] = useState(true);
  const [matchAt, setMatchAt] = useState(-1);
  const list = useRef<VirtuosoHandle>(null);

  const needle = term.trim().toLowerCase();
  // One filter per log view, updated in place: new lines and narrower terms cost only what changed.
  const filter = useRef(new LogFilter()).current;
  const revision = useMemo(() => {
    filter.update(events, lower, { levels, needle, onlyMatches });
    return filter.revision;
    // `version` changes when events were appended to the (mutable) arrays.
  }, [filter, events, lower, version, levels, onlyMatches, needle]);
  const { shown, matches } = filter;
  const lineAt = (i: number) => events[shown[i]!]!;

  const jump = (dir: 1 | -1) => {
    if (matches.length === 0) return;
    const next = (matchAt + dir + matches.length) % matches.length;
    setMatchAt(next);
    list.current?.scrollToIndex({ index: matches[next]!, align: 'center' });
  };
  const toggle = (level: string) =>
    setLevels((s) => {
      const n = new Set(s);
      if (n.has(level)) n.delete(level);
      else n.add(level);
      return n;
    });
  const exportAs = (format: 'text' | 'json') => {
    const lines = shown.map((i) => events[i]!);
    if (format === 'text') saveText(lines.map(eventLine).join('\n') + '\n', `run-${runId}.log`);
    else saveText(JSON.stringify(lines, null, 2), `run-${runId}.events.json`, 'application/json');
  };

  return (
    <div className="logview">
      <div className="log-toolbar" role="toolbar" aria-label="Log controls">
        <fieldset className="levels">
          <legend className="sr-only">Levels</legend>
          {LEVELS.map((l) => (
            <label key={l} className={`chip lv-${l}`}>
              <input type="checkbox" checked={levels.has(l)} onChange={() => toggle(l)} /> {l}
            </label>
          ))}
        </fieldset>
        <label className="log-search">
          <span className="sr-only">Search the log</span>
          <input
            type="search"
            placeholder="Search…"
            value={term}
            onChange={(e) => {
              setTerm(e.target.value);
              setMatchAt(-1);
            }}
            onKeyDown={(e) => {
              if (e.key === 'Enter') jump(e.shiftKey ? -1 : 1);
            }}
          />
        </label>
        {needle && (
          <>
            <span className="muted small" data-testid="match-count">
              {matches.length} match{matches.length === 1 ? '' : 'es'}
            </span>
            <button type="button" className="btn-small" onClick={() => jump(-1)} aria-label="Previous match">
              ↑
            </button>
            <button type="button" className="btn-small" onClick={() => jump(1)} aria-label="Next match">
              ↓
            </button>
            <label className="chip">
              <input
                type="checkbox"
                checked={onlyMatches}
                onChange={(e) => setOnlyMatches(e.target.checked)}
              />{' '}
              only matches
            </label>
          </>
        )}
        <span className="spacer" />
        <span className="muted small" data-testid="line-count" data-last-seq={lastSeq}>
          {shown.length === events.length
            ? `${events.length} lines`
            : `${shown.length} of ${events.length} lines`}
        </span>
        <button type="button" className="btn-small" onClick={() => exportAs('text')}>
          Export text
        </button>
        <button type="button" className="btn-small" onClick={() => exportAs('json')}>
          Export JSON
        </button>
      </div>
      <div className="log-body" role="log" aria-label="Run log" aria-live="off">
        {events.length === 0 ? (
          <div className="empty">Waiting for output…</div>
        ) : (
          <Virtuoso
            ref={list}
            style={{ height: '100%' }}
            totalCount={shown.length}
            // Rows are read by index from the filter's arrays; the revision tells Virtuoso they changed.
            context={revision}
            followOutput={(bottom) => (bottom ? 'auto' : false)}
            atBottomStateChange={setAtBottom}
            atBottomThreshold={24}
            initialTopMostItemIndex={Math.max(0, shown.length - 1)}
            increaseViewportBy={400}
            computeItemKey={(i) => lineAt(i).seq}
            itemContent={(i) => <LogLine e={lineAt(i)} current={matches[matchAt] === i} term={term.trim()} />}
          />
        )}
        {!atBottom && events.length > 0 && (
          <button
            type="button"
            className="follow"
            onClick={() => list.current?.scrollToIndex({ index: shown.length - 1, behavior: 'auto' })}
          >
            Auto-scroll paused · jump to latest ↓
          </button>
        )}
      </div>
    </div>
  );
}

/** One log line (a row of the virtualised list). */
function LogLine({ e, current, term }: { e: EventT; current: boolean; term: string }) {
  return (
    <div
      className={`ll ll-${e.level}${e.type !== 'log' ? ' ll-event' : ''}${current ? ' ll-current' : ''}`}
      data-seq={e.seq}
    >
      <span className="ll-seq">{e.seq}</span>
      <span className="ll-ts">{time(e.ts)}</span>
      <span className="ll-lv">{e.level}</span>
      {e.step && <span className="ll-step">{e.step}</span>}
      <span className="ll-msg">
        {e.type !== 'log' && <span className="ll-type">{e.type}</span>}
        <Highlight text={e.message} term={term} />
      </span>
    </div>
  );
}
