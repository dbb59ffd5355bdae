import { useEffect, useState } from 'react';
import type { Stream } from '@ocr/client';
import type { EventT } from './types.js';

/**
 * A run's events as this tab has seen them, kept across page changes. The stream delivers each seq once
 * and resumes after `lastSeq` on reconnect; the seq guard here makes a duplicate impossible even if a
 * second subscription overlaps. Listeners are told at most once per animation frame, so a burst of
 * thousands of lines costs one render.
 */
class RunLog {
  events: EventT[] = [];
  /** Each event's message lowercased, once, as it arrives: the log search reads these. */
  lower: string[] = [];
  lastSeq = 0;
  version = 0;
  private listeners = new Set<(v: number) => void>();
  private unsubscribe: (() => void) | undefined;
  private frame: number | undefined;

  constructor(private readonly runId: string) {}

  add(event: EventT): void {
    if (event.seq <= this.lastSeq) return;
    this.events.push(event);
    this.lower.push(event.message.toLowerCase());
    this.lastSeq = event.seq;
    if (this.frame === undefined) this.frame = requestAnimationFrame(() => this.notify());
  }

  private notify(): void {
    this.frame = undefined;
    this.version++;
    for (const l of this.listeners) l(this.version);
  }

  attach(stream: Stream, listener: (v: number) => void): () => void {
    this.listeners.add(listener);
    if (!this.unsubscribe)
      this.unsubscribe = stream.subscribeRun(this.runId, this.lastSeq, (e) => this.add(e));
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.unsubscribe?.();
        this.unsubscribe = undefined;
      }
    };
  }
}

const logs = new Map<string, RunLog>();

function logFor(runId: string): RunLog {
  let log = logs.get(runId);
  if (!log) logs.set(runId, (log = new RunLog(runId)));
  return log;
}

/** Follow a run's events live; re-renders on new events. */
export function useRunEvents(
  stream: Stream,
  runId: string,
): { events: EventT[]; lower: string[]; version: number; lastSeq: number } {
  const log = logFor(runId);
  const [version, setVersion] = useState(log.version);
  useEffect(() => log.attach(stream, setVersion), [log, stream]);
  return { events: log.events, lower: log.lower, version, lastSeq: log.lastSeq };
}
