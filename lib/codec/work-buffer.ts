/**
 * A buffer its owner decodes into again and again (one request after another): grown when
 * a call needs more, given back when it is far larger than a call needs, so one huge request
 * does not pin its memory. What a call wrote is the owner's until its next call.
 */
export class WorkBuffer {
  bytes: Uint8Array;

  constructor(capacity = 0) {
    this.bytes = new Uint8Array(capacity);
  }

  /** At least `size` bytes (the same buffer as the last call where it fits). */
  ensure(size: number): Uint8Array {
    const b = this.bytes;
    if (b.length < size || b.length > 4 * size + WORK_SLACK) this.bytes = new Uint8Array(size + (size >>> 2));
    return this.bytes;
  }
}

/** How much larger than needed a buffer may stay, beyond 4×, before it is given back. */
const WORK_SLACK = 1 << 20;
