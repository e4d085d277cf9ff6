/** A growable list of int pairs (byte ranges), without per-item objects. */
export class RangeList {
  data: Int32Array;
  length = 0;
  constructor(capacity = 256) {
    this.data = new Int32Array(capacity * 2);
  }
  push(a: number, b: number): void {
    if (this.length * 2 + 2 > this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length * 2] = a;
    this.data[this.length * 2 + 1] = b;
    this.length++;
  }
  start(i: number): number {
    return this.data[i * 2]!;
  }
  end(i: number): number {
    return this.data[i * 2 + 1]!;
  }
}

/** A growable list of ints (v2 symbol references), without a JavaScript array. */
export class IntList {
  data: Int32Array;
  length = 0;
  constructor(capacity = 64) {
    this.data = new Int32Array(capacity);
  }
  push(n: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = n;
  }
}
