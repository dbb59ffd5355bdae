/** A FIFO of output chunks with a byte count, dropping from the front in O(1) per chunk. */

/** A piece of one stream's output. */
export interface Chunk {
  stream: string;
  bytes: Buffer;
}

export class ChunkQueue {
  private items: (Chunk | undefined)[] = [];
  private head = 0;
  /** Bytes currently held. */
  bytes = 0;

  push(stream: string, bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.items.push({ stream, bytes });
    this.bytes += bytes.length;
  }

  /** Remove `count` bytes from the front (splitting a chunk if needed); returns what was removed. */
  dropFront(count: number): Chunk[] {
    const dropped: Chunk[] = [];
    while (count > 0 && this.head < this.items.length) {
      const front = this.items[this.head]!;
      if (front.bytes.length <= count) {
        dropped.push(front);
        this.items[this.head++] = undefined;
        count -= front.bytes.length;
        this.bytes -= front.bytes.length;
      } else {
        dropped.push({ stream: front.stream, bytes: front.bytes.subarray(0, count) });
        // Copy the kept part: a small view must not pin a large buffer for the rest of the step.
        front.bytes = Buffer.from(front.bytes.subarray(count));
        this.bytes -= count;
        count = 0;
      }
    }
    // Compact now and then so the array does not grow with every chunk ever seen.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return dropped;
  }

  /** Take every chunk out, oldest first. */
  *drain(): Generator<Chunk> {
    while (this.head < this.items.length) {
      const chunk = this.items[this.head]!;
      this.items[this.head++] = undefined;
      this.bytes -= chunk.bytes.length;
      yield chunk;
    }
    this.items = [];
    this.head = 0;
  }
}
