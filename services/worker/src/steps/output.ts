import { StringDecoder } from 'node:string_decoder';
import type { StepEvent } from './types.js';

export interface OutputLimits {
  /** Bytes of output emitted from the start of a step before truncation starts. */
  headBytes: number;
  /** Bytes of the most recent output kept (and emitted at the end) once truncating. */
  tailBytes: number;
  /** Longer lines are split into pieces of this size. */
  maxLineBytes: number;
}

export const DEFAULT_LIMITS: OutputLimits = { headBytes: 1024 * 1024, tailBytes: 1024 * 1024, maxLineBytes: 16 * 1024 };

/**
 * Turns a step's byte streams into line events, with head-and-tail truncation: the first `headBytes` go out
 * as they come, then only the last `tailBytes` are kept in a ring; at the end a notice says what was
 * dropped and the tail follows. Memory stays bounded however much a step prints, and both the start and the
 * end of the output survive.
 */
export class OutputFramer {
  private emitted = 0;
  private readonly partial = new Map<string, string>();
  // One decoder per stream: a multi-byte character split across chunks is joined, not mangled.
  private readonly decoders = new Map<string, StringDecoder>();
  private tail: { stream: string; line: string; bytes: number }[] = [];
  private tailBytes = 0;
  private droppedLines = 0;
  private droppedBytes = 0;
  private truncating = false;

  constructor(
    private readonly emit: (event: StepEvent) => void,
    private readonly limits: OutputLimits = DEFAULT_LIMITS,
  ) {}

  /** Feed a chunk of a stream (`stdout`, `stderr`). */
  write(stream: string, chunk: Buffer | string): void {
    let decoder = this.decoders.get(stream);
    if (!decoder) this.decoders.set(stream, (decoder = new StringDecoder('utf8')));
    const text = (this.partial.get(stream) ?? '') + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    const lines = text.split('\n');
    let rest = lines.pop() ?? '';
    for (const line of lines) this.line(stream, line.endsWith('\r') ? line.slice(0, -1) : line);
    while (Buffer.byteLength(rest) > this.limits.maxLineBytes) {
      this.line(stream, rest.slice(0, this.limits.maxLineBytes));
      rest = rest.slice(this.limits.maxLineBytes);
    }
    this.partial.set(stream, rest);
  }

  /** Flush partial lines and, when truncated, the notice and the kept tail. */
  end(): void {
    for (const [stream, decoder] of this.decoders) {
      const rest = (this.partial.get(stream) ?? '') + decoder.end();
      this.partial.set(stream, rest);
    }
    for (const [stream, rest] of this.partial) if (rest) this.line(stream, rest);
    this.partial.clear();
    if (this.truncating) {
      this.emit({
        level: 'warn',
        type: 'output.truncated',
        message: `output truncated: ${this.droppedLines} lines (${this.droppedBytes} bytes) dropped between the first and last ${this.limits.tailBytes} bytes`,
        data: { dropped_lines: this.droppedLines, dropped_bytes: this.droppedBytes },
      });
      for (const { stream, line } of this.tail) this.send(stream, line);
      this.tail = [];
      this.tailBytes = 0;
    }
  }

  private line(stream: string, line: string): void {
    const bytes = Buffer.byteLength(line) + 1;
    if (!this.truncating && this.emitted + bytes <= this.limits.headBytes) {
      this.emitted += bytes;
      this.send(stream, line);
      return;
    }
    this.truncating = true;
    this.tail.push({ stream, line, bytes });
    this.tailBytes += bytes;
    while (this.tailBytes > this.limits.tailBytes && this.tail.length > 1) {
      const dropped = this.tail.shift()!;
      this.tailBytes -= dropped.bytes;
      this.droppedLines++;
      this.droppedBytes += dropped.bytes;
    }
  }

  private send(stream: string, line: string): void {
    this.emit({ level: 'info', type: 'log', message: line, data: { stream } });
  }
}
