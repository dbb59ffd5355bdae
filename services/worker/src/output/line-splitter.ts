/**
 * Splits one byte stream into lines, working on bytes (a multi-byte character split across chunks is
 * joined before decoding) and cutting lines longer than a limit into pieces on a character boundary.
 */

/** Receives each line (without its newline); `continues` is true for a piece of an over-long line. */
export type LineSink = (line: string, continues: boolean, bytes: number) => void;

const NEWLINE = 0x0a;

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly sink: LineSink,
  ) {}

  /**
   * Feed bytes. Returns how many bytes of `chunk` were consumed: all of them, unless `stop()` turned true
   * after a line, in which case the rest is left to the caller (the framer switches to keeping the tail).
   */
  push(chunk: Buffer, stop: () => boolean = () => false): number {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      const taken = this.append(chunk, start, end, stop);
      if (start + taken < end) return start + taken;
      if (newline === -1) return chunk.length;
      this.flush(false);
      start = newline + 1;
      if (stop()) return start;
    }
    return chunk.length;
  }

  /** The bytes of the unfinished line, taken out of the splitter (used when switching to tail mode). */
  takePending(): Buffer {
    const pending = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return pending;
  }

  /** The stream ended: an unfinished last line is a line too. */
  end(): void {
    if (this.pendingBytes > 0) this.flush(false);
  }

  /** Adds `chunk[start, end)` to the current line, emitting pieces of an over-long one; returns bytes taken. */
  private append(chunk: Buffer, start: number, end: number, stop: () => boolean): number {
    let at = start;
    while (this.pendingBytes + (end - at) > this.maxLineBytes) {
      let cut = charBoundary(chunk, at + this.maxLineBytes - this.pendingBytes, at);
      if (cut === at) {
        // Not even one whole character fits after what is pending: emit the pending bytes alone first.
        if (this.pendingBytes === 0) cut = at + this.maxLineBytes;
      }
      if (cut > at) this.pending.push(chunk.subarray(at, cut));
      this.pendingBytes += cut - at;
      at = cut;
      this.flush(true);
      if (stop()) return at - start;
    }
    if (end > at) {
      this.pending.push(chunk.subarray(at, end));
      this.pendingBytes += end - at;
    }
    return end - start;
  }

  private flush(continues: boolean): void {
    const bytes = this.pendingBytes;
    let line = (this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, bytes)).toString(
      'utf8',
    );
    this.pending = [];
    this.pendingBytes = 0;
    if (!continues && line.endsWith('\r')) line = line.slice(0, -1);
    this.sink(line, continues, bytes + (continues ? 0 : 1));
  }
}

/** The largest index ≤ `at` (and ≥ `floor`) that does not split a UTF-8 character. */
function charBoundary(buffer: Buffer, at: number, floor: number): number {
  let cut = at;
  // Continuation bytes look like 10xxxxxx; back up to the lead byte of the character at the cut.
  while (cut > floor && (buffer[cut]! & 0xc0) === 0x80) cut--;
  return cut;
}
