/**
 * Reading an answer of Prometheus within a byte cap and a deadline. The body is read chunk by
 * chunk and never beyond the cap: past it the read stops and the stream is cancelled (which
 * drops the connection), and an abort of the deadline's signal ends the read wherever it is.
 * A list can also end the read once it holds enough elements (`stopAfter`). What was read can
 * then be parsed whole or, when it was cut, up to its last complete element (`closeCutJson`),
 * so that a cut list is answered as a shorter one.
 */

export interface CappedBody {
  /** The bytes read: all of the body, or its first bytes when `truncated`. */
  readonly bytes: Uint8Array;
  /** True when the body went on beyond what was read (the cap, or `stopAfter`). */
  readonly truncated: boolean;
}

/** The body's stream failed while it was read (e.g. the connection was reset); `cause` says how. */
export class BodyReadError extends Error {
  constructor(cause: unknown) {
    super("the answer's body could not be read", { cause });
    this.name = "BodyReadError";
  }
}

/** Ends a read once the first array `depth` deep holds `count` complete elements. */
export interface StopAfter {
  readonly depth: number;
  readonly count: number;
}

/**
 * Reads `body` up to `maxBytes` (and, with `stopAfter`, no further than the end of that list's
 * `count`-th element). Rejects with the signal's reason when `signal` aborts before the end
 * (the stream is cancelled), with a BodyReadError when the stream fails; a body cut short has
 * its stream cancelled. `keepCut: false` drops the bytes of a cut body (nobody will parse them).
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  signal: AbortSignal,
  options: { stopAfter?: StopAfter; keepCut?: boolean } = {},
): Promise<CappedBody> {
  if (body === null) return { bytes: new Uint8Array(0), truncated: false };
  if (signal.aborted) {
    await body.cancel(signal.reason).catch(() => {});
    throw signal.reason;
  }
  const reader = body.getReader();
  // a stream that ignores the signal (any fetch but Node's) still ends: cancelling settles the read
  const onAbort = () => {
    reader.cancel(signal.reason).catch(() => {});
  };
  signal.addEventListener("abort", onAbort, { once: true });
  const counter =
    options.stopAfter === undefined ? undefined : new JsonScanner(options.stopAfter.depth, options.stopAfter);
  const chunks: Uint8Array[] = [];
  let total = 0;
  let truncated = false;
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (err) {
        throw signal.aborted ? signal.reason : new BodyReadError(err);
      }
      if (signal.aborted) throw signal.reason;
      const { done, value } = next;
      if (done) break;
      let take = Math.min(value.byteLength, maxBytes - total);
      const stop = counter?.feed(value.subarray(0, take)) ?? -1;
      if (stop >= 0) take = stop - total;
      chunks.push(take === value.byteLength ? value : value.subarray(0, take));
      total += take;
      if (take < value.byteLength) {
        truncated = true;
        break;
      }
    }
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    throw err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  if (truncated) {
    await reader.cancel().catch(() => {});
    if (options.keepCut === false) return { bytes: new Uint8Array(0), truncated };
  }
  return { bytes: concat(chunks, total), truncated };
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;
/** Deeper documents are not cut past this depth (Prometheus's answers are 6 deep). */
const MAX_NESTING = 64;

/**
 * Follows the structure of a JSON text fed in pieces, byte by byte (in UTF-8 no byte of a
 * multi-byte character looks like a bracket, quote or comma), remembering where the text could
 * be cut and closed: right after a complete element of an array at most `cutDepth` deep, or
 * right after such an array opens (the root is depth 1). With `stopAfter`, it also counts the
 * complete elements of the first array that deep and reports where the count is reached.
 */
class JsonScanner {
  private readonly stack = new Uint8Array(MAX_NESTING);
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Offset of the next byte fed. */
  private offset = 0;
  /** The last place the text can be cut, and the containers open there. */
  private cutAt = -1;
  private cutDepth = 0;
  private readonly cutStack = new Uint8Array(MAX_NESTING);
  /** Whether the containers up to cutDepth changed since cutStack was copied. */
  private changed = true;
  /** The document closed (and anything after it is not JSON of ours). */
  private ended = false;
  /** Counting the elements of the list (0: not opened yet; -1: closed or never to count). */
  private listState: 0 | 1 | -1;
  private elements = 0;

  constructor(
    private readonly cutDepth_: number,
    private readonly stopAfter?: StopAfter,
  ) {
    this.listState = stopAfter === undefined ? -1 : 0;
  }

  /** Feeds the next bytes; returns the offset just after the stopAfter-th element, or -1. */
  feed(bytes: Uint8Array): number {
    const maxDepth = this.cutDepth_;
    const stack = this.stack;
    for (let i = 0; i < bytes.length && !this.ended; i++) {
      const b = bytes[i]!;
      const at = this.offset + i;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) {
          this.inString = false;
          if (stack[this.depth - 1] === OPEN_ARRAY) this.elementEnded(at + 1, maxDepth);
        }
        continue;
      }
      switch (b) {
        case QUOTE:
          this.inString = true;
          break;
        case OPEN_ARRAY:
        case OPEN_OBJECT:
          if (this.depth === MAX_NESTING) {
            this.ended = true;
            break;
          }
          if (this.depth < maxDepth) this.changed = true;
          stack[this.depth++] = b;
          if (b === OPEN_ARRAY && this.depth <= maxDepth) this.markCut(at + 1);
          if (b === OPEN_ARRAY && this.listState === 0 && this.depth === this.stopAfter!.depth) {
            this.listState = 1;
            if (this.stopAfter!.count <= 0) return this.stopped(i);
          }
          break;
        case CLOSE_ARRAY:
        case CLOSE_OBJECT:
          if (this.depth <= maxDepth) this.changed = true;
          if (this.listState === 1 && this.depth === this.stopAfter!.depth) this.listState = -1;
          this.depth--;
          if (this.depth <= 0) {
            this.ended = true;
            this.cutAt = at + 1;
            this.cutDepth = 0;
            break;
          }
          if (stack[this.depth - 1] === OPEN_ARRAY) this.elementEnded(at + 1, maxDepth);
          break;
        case COMMA:
          if (stack[this.depth - 1] !== OPEN_ARRAY) break;
          // a number, true, false or null before the comma is complete too
          this.elementEnded(at, maxDepth);
          // each element of the list but the last is followed by a comma
          if (this.listState === 1 && this.depth === this.stopAfter!.depth) {
            if (++this.elements >= this.stopAfter!.count) return this.stopped(i);
          }
          break;
        default:
          break;
      }
    }
    this.offset += bytes.length;
    return -1;
  }

  /** An element of the array on top ended just before `at`: a place to cut, if shallow enough. */
  private elementEnded(at: number, maxDepth: number): void {
    if (this.depth <= maxDepth && at > this.cutAt) this.markCut(at);
  }

  private stopped(i: number): number {
    this.offset += i + 1;
    this.ended = true;
    return this.cutAt;
  }

  private markCut(at: number): void {
    this.cutAt = at;
    this.cutDepth = this.depth;
    if (this.changed) {
      this.cutStack.set(this.stack.subarray(0, this.depth));
      this.changed = false;
    }
  }

  /**
   * The text of `bytes` (what was fed, from its start) closed at the last place it could be
   * cut; undefined when there is none. The bytes after the cut are overwritten when there is
   * room for the closing brackets.
   */
  close(bytes: Uint8Array): string | undefined {
    if (this.cutAt < 0) return undefined;
    const at = Math.min(this.cutAt, bytes.length);
    const depth = this.cutDepth;
    const fits = at + depth <= bytes.length;
    const out = fits ? bytes : new Uint8Array(at + depth);
    if (!fits) out.set(bytes.subarray(0, at));
    for (let d = depth - 1, i = at; d >= 0; d--, i++) {
      out[i] = this.cutStack[d] === OPEN_ARRAY ? CLOSE_ARRAY : CLOSE_OBJECT;
    }
    return new TextDecoder().decode(out.subarray(0, at + depth));
  }
}

/**
 * The JSON text of a cut document, closed after its last complete element: the longest prefix
 * that ends right after a complete element of an array (or right after an array opens), with
 * the closing brackets of every container still open appended. Only arrays at most
 * `maxDepth` deep are cut (the root is depth 1), so the elements of deeper arrays stay whole:
 * with 5, Prometheus's `[time, "value"]` pairs (depth 6 of a matrix) are never split, while
 * the list of series, a series' `values` and the lists of series, names and values of the
 * other answers are. An object is never cut between its members, except around the array
 * being cut. Undefined when nothing complete precedes the cut; a whole document is returned
 * whole. The bytes after the cut are overwritten when there is room for the brackets.
 */
export function closeCutJson(bytes: Uint8Array, maxDepth: number): string | undefined {
  const scanner = new JsonScanner(maxDepth);
  scanner.feed(bytes);
  return scanner.close(bytes);
}
