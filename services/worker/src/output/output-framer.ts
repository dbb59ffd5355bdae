/**
 * A step's output streams → line events, with head-and-tail truncation so that a step printing 200 MB in
 * a second neither runs the worker out of memory nor floods the run's log, and both the start and the end
 * of its output survive.
 *
 * Head: lines go out as they come until `headBytes` or `headLines` is reached. Then a notice says the
 * output is being truncated, and only the most recent `tailBytes` of raw bytes are kept (a queue of chunks,
 * cheap per byte: no decoding, no splitting, whatever the rate). At the end the kept bytes are split into
 * lines (at most `tailLines` of them), a notice records what was dropped, and the tail lines follow.
 */
import type { StepEvent } from '../step-event.js';
import { ChunkQueue } from './chunk-queue.js';
import { LineSplitter } from './line-splitter.js';

/** Truncation limits for one step's output (all streams together). */
export interface OutputLimits {
  headBytes: number;
  headLines: number;
  tailBytes: number;
  tailLines: number;
  /** Longer lines are emitted as several pieces (`data.continues: true` on all but the last). */
  maxLineBytes: number;
}

/** 1 MiB head and tail, 10,000 lines each, 16 KiB lines. */
export const DEFAULT_OUTPUT_LIMITS: Readonly<OutputLimits> = Object.freeze({
  headBytes: 1024 * 1024,
  headLines: 10_000,
  tailBytes: 1024 * 1024,
  tailLines: 10_000,
  maxLineBytes: 16 * 1024,
});

/** What a step printed, for its result and metrics. */
export interface OutputSummary {
  bytes: number;
  emittedLines: number;
  droppedBytes: number;
  droppedLines: number;
  truncated: boolean;
}

const NEWLINE = 0x0a;

/** Frames the streams of one step into `log` events (see the module comment for truncation). */
export class OutputFramer {
  private readonly limits: OutputLimits;
  private readonly splitters = new Map<string, LineSplitter>();
  private readonly tail = new ChunkQueue();
  /** Last byte dropped from the front of the tail, per stream: tells whether its first kept line was cut. */
  private readonly lastDropped = new Map<string, number>();
  private headBytes = 0;
  private headLines = 0;
  private totalBytes = 0;
  private droppedBytes = 0;
  private droppedLines = 0;
  private truncating = false;
  private ended = false;

  constructor(
    private readonly emit: (event: StepEvent) => void,
    limits: Partial<OutputLimits> = {},
  ) {
    this.limits = { ...DEFAULT_OUTPUT_LIMITS, ...limits };
  }

  /** Feed a chunk of one stream (`stdout`, `stderr`, `body`, …). */
  write(stream: string, chunk: Buffer | string): void {
    if (this.ended) return;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.totalBytes += bytes.length;
    if (this.truncating) return this.keep(stream, bytes);
    // Truncation starts only when output goes on past a full head: output that fits exactly is complete.
    if (this.headFull()) return this.startTruncating(stream, bytes);
    const taken = this.splitter(stream).push(bytes, () => this.headFull());
    if (taken < bytes.length) this.startTruncating(stream, bytes.subarray(taken));
  }

  /** All streams ended: flush unfinished lines, or the notice and the kept tail. Idempotent. */
  end(): OutputSummary {
    if (!this.ended) {
      this.ended = true;
      if (this.truncating) this.flushTail();
      else for (const splitter of this.splitters.values()) splitter.end();
    }
    return {
      bytes: this.totalBytes,
      emittedLines: this.headLines,
      droppedBytes: this.droppedBytes,
      droppedLines: this.droppedLines,
      truncated: this.truncating,
    };
  }

  private splitter(stream: string): LineSplitter {
    let splitter = this.splitters.get(stream);
    if (!splitter) {
      splitter = new LineSplitter(this.limits.maxLineBytes, (line, continues, bytes) => {
        this.headLines++;
        this.headBytes += bytes;
        this.send(stream, line, continues, false);
      });
      this.splitters.set(stream, splitter);
    }
    return splitter;
  }

  private headFull(): boolean {
    return this.headBytes >= this.limits.headBytes || this.headLines >= this.limits.headLines;
  }

  private startTruncating(stream: string, rest: Buffer): void {
    this.truncating = true;
    const { headBytes, headLines, tailBytes, tailLines } = this.limits;
    this.emit({
      level: 'warn',
      type: 'output.truncating',
      message: `output passed ${headLines} lines or ${headBytes} bytes: keeping only the last ${tailLines} lines / ${tailBytes} bytes, shown when the step ends`,
      data: { head_bytes: headBytes, head_lines: headLines, tail_bytes: tailBytes, tail_lines: tailLines },
    });
    // Unfinished lines are older than the rest of this chunk: they go first, so each is completed in order.
    for (const [name, splitter] of this.splitters) {
      const pending = splitter.takePending();
      if (pending.length > 0) this.keep(name, pending);
    }
    if (rest.length > 0) this.keep(stream, rest);
  }

  private keep(stream: string, bytes: Buffer): void {
    this.tail.push(stream, bytes);
    const over = this.tail.bytes - this.limits.tailBytes;
    if (over > 0) {
      for (const dropped of this.tail.dropFront(over)) {
        this.droppedBytes += dropped.bytes.length;
        this.droppedLines += countNewlines(dropped.bytes);
        this.lastDropped.set(dropped.stream, dropped.bytes[dropped.bytes.length - 1]!);
      }
    }
  }

  private flushTail(): void {
    // Split the kept bytes into lines, keeping at most `tailLines` of the most recent ones.
    const lines: { stream: string; line: string; continues: boolean; cut: boolean }[] = [];
    let first = 0;
    const firstSeen = new Set<string>();
    const splitters = new Map<string, LineSplitter>();
    const splitterFor = (stream: string) => {
      let splitter = splitters.get(stream);
      if (!splitter) {
        splitter = new LineSplitter(this.limits.maxLineBytes, (line, continues, bytes) => {
          const last = this.lastDropped.get(stream);
          const cut = !firstSeen.has(stream) && last !== undefined && last !== NEWLINE;
          firstSeen.add(stream);
          lines.push({ stream, line, continues, cut });
          if (lines.length - first > this.limits.tailLines) {
            this.droppedLines++;
            this.droppedBytes += bytes;
            lines[first++] = undefined as never;
          }
        });
        splitters.set(stream, splitter);
      }
      return splitter;
    };
    for (const chunk of this.tail.drain()) splitterFor(chunk.stream).push(chunk.bytes);
    for (const splitter of splitters.values()) splitter.end();
    const kept = lines.slice(first);
    this.emit({
      level: 'warn',
      type: 'output.truncated',
      message: `output truncated: ${this.droppedLines} lines (${this.droppedBytes} bytes) dropped between the first ${this.headLines} lines and the last ${kept.length}`,
      data: {
        total_bytes: this.totalBytes,
        dropped_bytes: this.droppedBytes,
        dropped_lines: this.droppedLines,
        head_lines: this.headLines,
        tail_lines: kept.length,
      },
    });
    for (const { stream, line, continues, cut } of kept) this.send(stream, line, continues, cut);
  }

  private send(stream: string, line: string, continues: boolean, cut: boolean): void {
    const data: Record<string, unknown> = { stream };
    if (continues) data.continues = true;
    if (cut) data.cut = true;
    this.emit({ level: 'info', type: 'log', message: line, data });
  }
}

function countNewlines(bytes: Buffer): number {
  let count = 0;
  for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE, at + 1)) count++;
  return count;
}
