import { describe, expect, it } from "vitest";
import { BodyReadError, closeCutJson, readCapped } from "../../../lib/mirror/answer-read";

const bytes = (text: string) => new TextEncoder().encode(text);

/** A stream of the given chunks; records how far it was pulled and whether it was cancelled. */
function chunked(chunks: readonly string[], options: { endless?: boolean } = {}) {
  const seen = { pulled: 0, cancelled: false };
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) {
        seen.pulled++;
        controller.enqueue(bytes(chunks[i++]!));
      } else if (options.endless) {
        seen.pulled++;
        controller.enqueue(bytes(" "));
      } else controller.close();
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { stream, seen };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const never = () => new AbortController().signal;

describe("readCapped", () => {
  it("reads a body within the cap whole", async () => {
    const { stream, seen } = chunked(['{"a":', "[1,2]", "}"]);
    const read = await readCapped(stream, 100, never());
    expect(text(read.bytes)).toBe('{"a":[1,2]}');
    expect(read.truncated).toBe(false);
    expect(seen.cancelled).toBe(false);
  });

  it("stops at the cap, keeps exactly the cap's bytes and cancels the stream", async () => {
    const { stream, seen } = chunked(["0123456789", "abcdefghij", "never read"], { endless: true });
    const read = await readCapped(stream, 15, never());
    expect(text(read.bytes)).toBe("0123456789abcde");
    expect(read.truncated).toBe(true);
    expect(seen.cancelled).toBe(true);
    expect(seen.pulled).toBeLessThanOrEqual(3); // what the stream buffers ahead, no more
  });

  it("a body of exactly the cap is whole", async () => {
    const { stream } = chunked(["01234", "56789"]);
    const read = await readCapped(stream, 10, never());
    expect(read.truncated).toBe(false);
    expect(text(read.bytes)).toBe("0123456789");
  });

  it("drops the bytes of a cut body nobody will parse", async () => {
    const { stream } = chunked(["0123456789", "0123456789"]);
    const read = await readCapped(stream, 12, never(), { keepCut: false });
    expect(read).toEqual({ bytes: new Uint8Array(0), truncated: true });
  });

  it("ends a list after its n-th element, wherever the chunks split it", async () => {
    const answer = '{"status":"success","data":["a","b,c","d\\"]","e"],"warnings":["w"]}';
    for (const size of [1, 3, 7, answer.length]) {
      const pieces = answer.match(new RegExp(`.{1,${size}}`, "gs")) ?? [];
      const { stream, seen } = chunked(pieces);
      const read = await readCapped(stream, 1000, never(), { stopAfter: { depth: 2, count: 3 } });
      expect(read.truncated).toBe(true);
      expect(text(read.bytes)).toBe('{"status":"success","data":["a","b,c","d\\"]"');
      expect(JSON.parse(closeCutJson(read.bytes, 5)!)).toEqual({
        status: "success",
        data: ["a", "b,c", 'd"]'],
      });
      expect(seen.cancelled).toBe(true);
    }
  });

  it("a list with no more elements than asked is read whole", async () => {
    const { stream } = chunked(['{"status":"success","data":[{"a":"1"},{"a":"2"}]}']);
    const read = await readCapped(stream, 1000, never(), { stopAfter: { depth: 2, count: 2 } });
    expect(read.truncated).toBe(false);
  });

  it("an abort ends the read with the signal's reason, even of a stream that ignores signals", async () => {
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes('{"status":'));
      },
    });
    const controller = new AbortController();
    const read = readCapped(stalled, 1000, controller.signal);
    setTimeout(() => controller.abort(new Error("time is up")), 20);
    await expect(read).rejects.toThrow("time is up");
  });

  it("a failing stream is a BodyReadError carrying the cause", async () => {
    const failing = new ReadableStream<Uint8Array>({
      pull() {
        throw Object.assign(new TypeError("terminated"), { cause: { code: "UND_ERR_SOCKET" } });
      },
    });
    const err = await readCapped(failing, 1000, never()).catch((e) => e);
    expect(err).toBeInstanceOf(BodyReadError);
    expect((err as BodyReadError).cause).toMatchObject({ message: "terminated" });
  });
});

describe("closeCutJson", () => {
  const matrix =
    '{"status":"success","data":{"resultType":"matrix","result":[' +
    '{"metric":{"__name__":"m","i":"a"},"values":[[1,"1"],[2,"2"],[3,"3"]]},' +
    '{"metric":{"__name__":"m","i":"b"},"values":[[1,"4"],[2,"5"]]}]}}';
  const cutAt = (text: string, end: number) => {
    const closed = closeCutJson(bytes(text.slice(0, end)), 5);
    return closed === undefined ? undefined : JSON.parse(closed);
  };

  it("every prefix of a matrix closes into valid JSON of whole points and whole label sets", () => {
    for (let end = 1; end <= matrix.length; end++) {
      const doc = cutAt(matrix, end);
      if (doc === undefined) continue;
      expect(doc.status).toBe("success");
      for (const series of doc.data?.result ?? []) {
        expect(Object.keys(series.metric)).toEqual(["__name__", "i"]);
        for (const pair of series.values ?? []) expect(pair).toHaveLength(2);
      }
    }
  });

  it("keeps the points before a cut inside a series' values", () => {
    const end = matrix.indexOf('[3,"3"]') + 3;
    expect(cutAt(matrix, end).data.result).toEqual([
      {
        metric: { __name__: "m", i: "a" },
        values: [
          [1, "1"],
          [2, "2"],
        ],
      },
    ]);
  });

  it("drops a series whose label set was cut", () => {
    const end = matrix.indexOf('"i":"b"') + 4;
    const result = cutAt(matrix, end).data.result;
    expect(result).toHaveLength(1);
    expect(result[0].metric.i).toBe("a");
  });

  it("every prefix of a series list holds only whole label sets", () => {
    const list = '{"status":"success","data":[{"a":"x","b":"y"},{"a":"x","b":"z"},{"a":"w","b":"v"}]}';
    for (let end = 1; end <= list.length; end++) {
      const doc = cutAt(list, end);
      if (doc === undefined) continue;
      for (const set of doc.data ?? []) expect(Object.keys(set)).toEqual(["a", "b"]);
    }
  });

  it("never ends inside a number, a string or an escape", () => {
    const list = '{"status":"success","data":[12345,"a\\"b\\\\",true,"ünï ✓",null]}';
    const seen = new Set<string>();
    for (let end = 1; end <= list.length; end++) {
      const doc = cutAt(list, end);
      if (doc !== undefined) seen.add(JSON.stringify(doc.data));
    }
    expect([...seen]).toEqual([
      "[]",
      "[12345]",
      '[12345,"a\\"b\\\\"]',
      '[12345,"a\\"b\\\\",true]',
      '[12345,"a\\"b\\\\",true,"ünï ✓"]',
      '[12345,"a\\"b\\\\",true,"ünï ✓",null]',
    ]);
  });

  it("a whole document is returned as it is; nothing complete is undefined", () => {
    expect(closeCutJson(bytes('{"a":[1]}\n'), 5)).toBe('{"a":[1]}');
    expect(closeCutJson(bytes('{"status":"succ'), 5)).toBeUndefined();
  });

  it("writes the brackets where the cut bytes were, or in a copy when there is no room", () => {
    const cut = bytes('{"data":["a","b"');
    expect(closeCutJson(cut, 5)).toBe('{"data":["a","b"]}');
    const roomy = bytes('{"data":["a","b","c');
    expect(closeCutJson(roomy, 5)).toBe('{"data":["a","b"]}');
  });
});
