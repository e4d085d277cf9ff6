import { createRequire } from "node:module";
import SnappyJS from "snappyjs";
import { describe, expect, it } from "vitest";
import {
  availableSnappyBackends,
  compress,
  compressBlock,
  decompress,
  nativeSnappyAvailable,
  SnappyError,
  snappyBackend,
  uncompressBlock,
  useSnappy,
} from "../../lib/codec/snappy";
import { prng } from "../fixtures/damaged-corpus";
import { nativeHistogram, realisticSeries, v1Message, v2Message } from "../fixtures/remote-write";

/**
 * The gateway's JavaScript snappy codec against two independent implementations: snappyjs
 * and, when installed, the native package (Rust). Everything either encodes must decode to
 * the same bytes with the others; corrupt input must be refused exactly when the native
 * decoder refuses it (else give the same bytes).
 */
interface NativeSnappy {
  compressSync(input: Uint8Array): Uint8Array;
  uncompressSync(input: Uint8Array, options: { asBuffer: true }): Uint8Array;
}
const native: NativeSnappy | undefined = nativeSnappyAvailable()
  ? (createRequire(import.meta.url)("snappy") as NativeSnappy)
  : undefined;
if (!native)
  console.warn("snappy compatibility: the native package is absent; checking against snappyjs only");

/** Inputs of many shapes: protobuf requests, noise, runs, near-repeats, and edge lengths. */
function inputs(): Uint8Array[] {
  const r = prng(20240301).next;
  const out: Uint8Array[] = [
    v1Message(realisticSeries(500, 4)),
    v2Message(realisticSeries(300, 2)),
    v1Message([{ labels: [["__name__", "h"]], histograms: [nativeHistogram(1), nativeHistogram(2, 3)] }]),
    new Uint8Array(0),
    new Uint8Array(1),
    new Uint8Array(70_000).fill(7),
  ];
  for (const n of [14, 15, 16, 59, 60, 61, 255, 256, 257, 65_535, 65_536, 65_537, 131_072]) {
    out.push(Uint8Array.from({ length: n }, (_, i) => (i * 31) % 251));
  }
  for (let i = 0; i < 400; i++) {
    const n = Math.floor(r() ** 3 * 200_000);
    const a = new Uint8Array(n);
    const kind = i % 4;
    for (let j = 0; j < n; j++) {
      if (kind === 0) a[j] = Math.floor(r() * 256);
      else if (kind === 1) a[j] = Math.floor(r() * 4);
      else if (kind === 2) a[j] = (j % 37) + (r() < 0.01 ? 1 : 0);
      else a[j] = j < 10 ? 1 : a[j - 1 - Math.floor(r() * Math.min(j, 70_000))]! ^ (r() < 0.05 ? 1 : 0);
    }
    out.push(a);
  }
  return out;
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe("the JavaScript snappy codec", () => {
  const all = inputs();

  it(`encodes ${all.length} inputs so that snappyjs${native ? " and the native decoder" : ""} read them back`, () => {
    for (const x of all) {
      const c = compressBlock(x);
      expect(c.length).toBeLessThanOrEqual(32 + x.length + Math.floor(x.length / 6));
      expect(same(SnappyJS.uncompress(c), x)).toBe(true);
      if (native) expect(same(native.uncompressSync(c, { asBuffer: true }), x)).toBe(true);
      expect(same(compressBlock(x), c)).toBe(true); // deterministic
    }
  });

  it("decodes what snappyjs and the native encoder write", () => {
    for (const x of all) {
      expect(same(uncompressBlock(SnappyJS.compress(x), x.length), x)).toBe(true);
      if (native) expect(same(uncompressBlock(native.compressSync(x), x.length), x)).toBe(true);
    }
  });

  it("compresses no worse than snappyjs on the protobuf requests", () => {
    for (const x of all.slice(0, 3)) {
      expect(compressBlock(x).length).toBeLessThanOrEqual(SnappyJS.compress(x).length * 1.01);
    }
  });

  it("refuses corrupt input when the reference decoder does, and otherwise agrees with it", () => {
    const r = prng(7).next;
    const reference = (y: Uint8Array): Uint8Array | "refused" => {
      try {
        return native ? native.uncompressSync(y, { asBuffer: true }) : SnappyJS.uncompress(y, 1 << 24);
      } catch {
        return "refused";
      }
    };
    let refused = 0;
    let decoded = 0;
    for (let i = 0; i < 10_000; i++) {
      const x = all[i % all.length]!.subarray(0, 4000);
      const c = compressBlock(x);
      let y: Uint8Array;
      const m = r();
      if (m < 0.5) {
        y = c.slice();
        for (let k = 0; k < 1 + Math.floor(r() * 4); k++)
          y[Math.floor(r() * y.length)]! ^= 1 << Math.floor(r() * 8);
      } else if (m < 0.8) {
        y = c.subarray(0, Math.floor(r() * c.length));
      } else {
        y = c.slice();
        y[Math.floor(r() * y.length)] = Math.floor(r() * 256);
      }
      let mine: Uint8Array | "refused";
      try {
        mine = uncompressBlock(y, 1 << 24);
      } catch {
        mine = "refused";
      }
      const ref = reference(y);
      if (ref === "refused" && !native) {
        // without the native decoder as the reference, a stream snappyjs refuses is only
        // counted (the native comparison, where installed, is the strict one)
        if (mine !== "refused") decoded++;
        else refused++;
        continue;
      }
      if (ref === "refused") {
        expect(mine, `case ${i}`).toBe("refused");
        refused++;
      } else {
        expect(mine !== "refused" && same(mine, ref), `case ${i}`).toBe(true);
        decoded++;
      }
    }
    expect(refused).toBeGreaterThan(1000);
    expect(decoded).toBeGreaterThan(100);
  });

  it("refuses a declared length over the limit before allocating it", () => {
    expect(() => uncompressBlock(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]), 1 << 20)).toThrow(
      /over the limit/,
    );
    expect(() => uncompressBlock(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 1 << 30)).toThrow();
  });
});

/**
 * The WebAssembly codec (what the Lambda bundle ships), reached through the same
 * `decompress`/`compress` as the ingest path: it must agree with the JavaScript codec and
 * the reference decoder both ways, refuse what they refuse, and leave the declared-length
 * check in front of it.
 */
describe("the WebAssembly snappy codec", () => {
  const all = inputs();
  const withWasm = <T>(fn: () => T): T => {
    useSnappy("wasm");
    try {
      return fn();
    } finally {
      useSnappy("auto");
    }
  };

  it("is available here (the package is a dependency)", () => {
    expect(availableSnappyBackends()).toContain("wasm");
  });

  it(`encodes and decodes ${all.length} inputs interchangeably with the JavaScript codec and snappyjs`, () => {
    withWasm(() => {
      for (const x of all) {
        const c = compress(x);
        expect(same(uncompressBlock(c, x.length), x)).toBe(true);
        expect(same(SnappyJS.uncompress(c), x)).toBe(true);
        expect(same(decompress(compressBlock(x), x.length), x)).toBe(true);
        expect(same(decompress(SnappyJS.compress(x), x.length), x)).toBe(true);
      }
    });
  });

  it("refuses corrupt input exactly when the JavaScript codec does, and otherwise gives the same bytes", () => {
    const r = prng(11).next;
    let refused = 0;
    let decoded = 0;
    withWasm(() => {
      for (let i = 0; i < 5_000; i++) {
        const c = compressBlock(all[i % all.length]!.subarray(0, 4000));
        const y = r() < 0.6 ? c.slice() : c.subarray(0, Math.floor(r() * c.length));
        if (y.length === c.length) y[Math.floor(r() * y.length)]! ^= 1 << Math.floor(r() * 8);
        const attempt = (f: () => Uint8Array): Uint8Array | "refused" => {
          try {
            return f();
          } catch {
            return "refused";
          }
        };
        const js = attempt(() => uncompressBlock(y, 1 << 24));
        const w = attempt(() => decompress(y, 1 << 24));
        if (js === "refused") {
          expect(w, `case ${i}`).toBe("refused");
          refused++;
        } else {
          expect(w !== "refused" && same(w, js), `case ${i}`).toBe(true);
          decoded++;
        }
      }
    });
    expect(refused).toBeGreaterThan(500);
    expect(decoded).toBeGreaterThan(100);
  });

  it("never sees a declared length over the limit: the check in front of it refuses first", () => {
    withWasm(() => {
      const bomb = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
      expect(() => decompress(bomb, 1 << 20)).toThrow(SnappyError);
      try {
        decompress(bomb, 1 << 20);
      } catch (err) {
        expect((err as SnappyError).code).toBe("decoded-too-large");
      }
      expect(snappyBackend()).toBe("wasm");
    });
  });
});
