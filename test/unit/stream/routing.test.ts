import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { LabelScratch } from "../../../lib/ingest/scan/labels";
import { DEFAULT_LIMITS, type LabelLimits } from "../../../lib/ingest/scan/validate";
import { seriesSlot, seriesSlotFormat2, seriesSlotOf, tenantSeed } from "../../../lib/stream/routing";
import { prng } from "../../fixtures/damaged-corpus";

/**
 * The routing hash of stream format 3: held to the test vectors of docs/stream-format.md, to
 * an implementation written from the page's words, to the scanners' inlined form, and to
 * the qualities routing needs (an even spread over shards, every byte counting).
 */

const DOC = fileURLToPath(new URL("../../../docs/stream-format.md", import.meta.url));
const utf8 = new TextEncoder();

/** The format-3 hash as docs/stream-format.md states it, step by step. */
function fromTheSpec(labels: Record<string, string>, tenant: string | undefined): number {
  const P1 = 0x9e3779b1;
  const P2 = 0x85ebca77;
  const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
  const mul = (a: number, b: number) => Math.imul(a, b) >>> 0;
  const wordsOf = (strings: Uint8Array[]) => {
    const w: number[] = [];
    for (const s of strings) {
      w.push(s.length);
      for (let k = 0; k < s.length; k += 4) {
        let x = 0;
        for (let j = 0; j < 4 && k + j < s.length; j++) x += s[k + j]! * 256 ** j;
        w.push(x);
      }
    }
    return w;
  };
  const hash = (seed: number, words: number[]) => {
    const v = [(seed + P1 + P2) >>> 0, (seed + P2) >>> 0, seed >>> 0, (seed - P1) >>> 0];
    words.forEach((w, i) => {
      v[i % 4] = mul(rotl((v[i % 4]! + mul(w, P2)) >>> 0, 13), P1);
    });
    let h = (rotl(v[0]!, 1) + rotl(v[1]!, 7) + rotl(v[2]!, 12) + rotl(v[3]!, 18) + words.length) >>> 0;
    h ^= h >>> 16;
    h = mul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = mul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  };
  const seed = tenant === undefined || tenant === "" ? 0 : hash(0, wordsOf([utf8.encode(tenant)]));
  const names = Object.keys(labels)
    .map((n) => utf8.encode(n))
    .sort((a, b) => Buffer.compare(a, b));
  const strings = names.flatMap((n) => [n, utf8.encode(labels[new TextDecoder().decode(n)]!)]);
  return hash(seed, wordsOf(strings));
}

/** The test vectors table of docs/stream-format.md: labels (JSON), tenant (JSON), format 3 slot, format 2 slot. */
function docVectors(): {
  labels: Record<string, string>;
  tenant: string | undefined;
  f3: number;
  f2: number;
}[] {
  const text = readFileSync(DOC, "utf8");
  const rows = text.split("\n").filter((l) => l.startsWith("| `{"));
  return rows.map((row) => {
    const cells = row.split(" | ").map((c) => c.replace(/^\|? ?`?|`? ?\|?$/g, ""));
    return {
      labels: JSON.parse(cells[0]!) as Record<string, string>,
      tenant: (JSON.parse(cells[1]!) as string | null) ?? undefined,
      f3: Number.parseInt(cells[2]!, 16),
      f2: Number.parseInt(cells[3]!, 16),
    };
  });
}

/** Label sets like a Kubernetes fleet's: a few metric names, pods, instances, zones. */
function fleet(n: number, seed: number): Record<string, string>[] {
  const rnd = prng(seed).next;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const names = ["up", "node_cpu_seconds_total", "http_requests_total", "container_memory_working_set_bytes"];
  const out: Record<string, string>[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      __name__: pick(names),
      cluster: pick(["prod-eu-west-1", "prod-us-east-1", "staging"]),
      instance: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:9100`,
      job: pick(["node-exporter", "kubelet", "api"]),
      namespace: pick(["monitoring", "default", "kube-system", "payments"]),
      pod: `api-${Math.floor(rnd() * 1e9).toString(36)}-${Math.floor(rnd() * 1e5).toString(36)}`,
      zone: pick(["a", "b", "c"]),
    });
  }
  return out;
}

describe("the format-3 series hash", () => {
  it("gives the test vectors of docs/stream-format.md, for both formats", () => {
    const vectors = docVectors();
    expect(vectors.length).toBeGreaterThanOrEqual(5);
    for (const v of vectors) {
      expect(seriesSlot(v.labels, v.tenant)).toBe(v.f3);
      expect(seriesSlotFormat2(v.labels, v.tenant)).toBe(v.f2);
      expect(fromTheSpec(v.labels, v.tenant)).toBe(v.f3);
    }
  });

  it("is the algorithm the page states, on strings of every length around the word size", () => {
    const rnd = prng(7).next;
    for (let i = 0; i < 500; i++) {
      const labels: Record<string, string> = {};
      const count = 1 + Math.floor(rnd() * 6);
      for (let k = 0; k < count; k++) {
        const name = "n".repeat(1 + Math.floor(rnd() * 9)) + String(k);
        labels[name] = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () =>
          rnd() < 0.1 ? "é" : String.fromCharCode(97 + Math.floor(rnd() * 26)),
        ).join("");
      }
      const tenant = i % 3 === 0 ? undefined : `t${i}`;
      expect(seriesSlot(labels, tenant)).toBe(fromTheSpec(labels, tenant));
    }
  });

  it("keeps label boundaries: moving a byte between a name and its value, or between labels, moves the slot", () => {
    expect(seriesSlot({ a: "bc" }, undefined)).not.toBe(seriesSlot({ ab: "c" }, undefined));
    expect(seriesSlot({ a: "b", c: "d" }, undefined)).not.toBe(seriesSlot({ a: "bc", "": "d" }, undefined));
    expect(seriesSlot({ abcd: "efgh" }, undefined)).not.toBe(seriesSlot({ abcdefgh: "" }, undefined));
    // zero padding of the last word cannot stand in for a NUL byte: the length is hashed too
    expect(seriesSlot({ a: "b" }, undefined)).not.toBe(seriesSlot({ a: "b\u0000" }, undefined));
  });

  it("is seeded by the tenant; no tenant and the empty one are the same (the partition key cannot tell them apart)", () => {
    const labels = { __name__: "up", job: "api" };
    expect(seriesSlot(labels, "acme")).not.toBe(seriesSlot(labels, undefined));
    expect(seriesSlot(labels, "acme")).not.toBe(seriesSlot(labels, "acmf"));
    expect(seriesSlot(labels, "")).toBe(seriesSlot(labels, undefined));
    expect(tenantSeed(undefined)).toBe(0);
  });

  it("spreads realistic label sets evenly over 4, 16 and 64 equal shards", () => {
    const sets = fleet(120_000, 42);
    for (const tenant of [undefined, "acme"]) {
      const slots = sets.map((l) => seriesSlot(l, tenant));
      for (const shards of [4, 16, 64]) {
        const counts = new Array<number>(shards).fill(0);
        for (const s of slots) counts[Math.floor((s / 2 ** 32) * shards)]!++;
        const expected = sets.length / shards;
        const worst = Math.max(...counts.map((c) => Math.abs(c - expected) / expected));
        // about 3.5 standard deviations of a uniform spread (64 shards: 1,875 series each, σ 2.3 %)
        expect(worst).toBeLessThan({ 4: 0.025, 16: 0.05, 64: 0.08 }[shards]!);
        // and the spread as a whole: χ² per degree of freedom near 1
        const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
        expect(chi2 / (shards - 1)).toBeLessThan(3.5);
      }
    }
  });

  it("moves the slot for any one-byte change, flipping about half its bits", () => {
    const sets = fleet(2_000, 9);
    let flipped = 0;
    let changes = 0;
    const rnd = prng(11).next;
    for (const labels of sets) {
      const base = seriesSlot(labels, undefined);
      const names = Object.keys(labels);
      const name = names[Math.floor(rnd() * names.length)]!;
      const value = labels[name]!;
      const at = Math.floor(rnd() * value.length);
      const changed =
        value.slice(0, at) + String.fromCharCode(value.charCodeAt(at) ^ 1) + value.slice(at + 1);
      const slot = seriesSlot({ ...labels, [name]: changed }, undefined);
      expect(slot).not.toBe(base);
      let x = (slot ^ base) >>> 0;
      while (x) {
        flipped += x & 1;
        x >>>= 1;
      }
      changes++;
    }
    const mean = flipped / changes;
    expect(mean).toBeGreaterThan(15);
    expect(mean).toBeLessThan(17);
  });

  it("seriesSlotOf picks the hash of a record's stream format", () => {
    const labels = { __name__: "up", job: "api" };
    expect(seriesSlotOf(3)(labels, "t")).toBe(seriesSlot(labels, "t"));
    expect(seriesSlotOf(2)(labels, "t")).toBe(seriesSlotFormat2(labels, "t"));
  });
});

describe("the scanners' inlined hash", () => {
  /** Lays labels out in one buffer at odd offsets (the last value at its very end) and validates them. */
  function scanned(
    labels: [string, string][],
    tenant: string | undefined,
    limits: LabelLimits = DEFAULT_LIMITS,
  ) {
    const parts: Uint8Array[] = [];
    let at = 0;
    const ranges: number[] = [];
    for (const [name, value] of labels) {
      for (const s of [utf8.encode(name), utf8.encode(value)]) {
        parts.push(new Uint8Array(1 + (at % 3)));
        at += 1 + (at % 3);
        ranges.push(at, at + s.length);
        parts.push(s);
        at += s.length;
      }
    }
    const buf = Buffer.concat(parts);
    // a view that ends where the last value does: its tail word is read byte by byte
    const view = new Uint8Array(buf.buffer, buf.byteOffset, at);
    const scratch = new LabelScratch(2);
    for (let i = 0; i < ranges.length; i += 4)
      scratch.push(ranges[i]!, ranges[i + 1]!, ranges[i + 2]!, ranges[i + 3]!, 0, 0);
    const reason = scratch.validate(view, limits, tenantSeed(tenant));
    return { reason, hash: scratch.hash };
  }

  it.each([
    ["sorted", false],
    ["unsorted", true],
  ])(
    "equals seriesSlot over the same labels, %s, ASCII and UTF-8, with and without a tenant",
    (_, shuffle) => {
      const rnd = prng(shuffle ? 5 : 3).next;
      for (const set of fleet(300, 17)) {
        const labels = Object.entries(set).map(
          ([n, v]) => [n, rnd() < 0.2 ? `${v}ü🚀` : v] as [string, string],
        );
        labels.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
        if (shuffle) labels.reverse();
        for (const tenant of [undefined, "acme"]) {
          for (const limits of [DEFAULT_LIMITS, { ...DEFAULT_LIMITS, nameValidation: "legacy" as const }]) {
            const got = scanned(labels, tenant, limits);
            // legacy metric names are ASCII: that series is refused, as it should be
            const metric = labels.find(([n]) => n === "__name__")![1];
            if (limits.nameValidation === "legacy" && metric.includes("ü")) continue;
            expect(got.reason).toBeUndefined();
            expect(got.hash).toBe(seriesSlot(Object.fromEntries(labels), tenant));
          }
        }
      }
    },
  );

  it("stays exactly as strict: invalid UTF-8 and legacy character classes are still refused", () => {
    const scratch = new LabelScratch(4);
    const buf = new Uint8Array([...utf8.encode("__name__up"), ...utf8.encode("job"), 0x61, 0xc3, 0x28, 0x62]);
    scratch.push(0, 8, 8, 10, 0, 0);
    scratch.push(10, 13, 13, 17, 0, 0);
    expect(scratch.validate(buf, DEFAULT_LIMITS, 0)).toBe("label-value-invalid-utf8");
    scratch.reset();
    const legacy = { ...DEFAULT_LIMITS, nameValidation: "legacy" as const };
    const names = utf8.encode("__name__upjo-b1");
    scratch.push(0, 8, 8, 10, 0, 0);
    scratch.push(10, 14, 14, 15, 0, 0);
    expect(scratch.validate(names, legacy, 0)).toBe("label-name-invalid");
    expect(scratch.validate(names, DEFAULT_LIMITS, 0)).toBeUndefined();
  });
});
