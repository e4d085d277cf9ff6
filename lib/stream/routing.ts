/**
 * The routing hash of a series: its slot (lib/stream/shard-map.ts), which fixes the series'
 * hash key, hence its shard lineage. Computed over the canonical label set (names and values
 * in name order) and the tenant, so the same series has the same slot from a v1 and a v2
 * body. The ingest scanners compute it over the request's bytes (lib/ingest/scan/labels.ts);
 * `seriesSlot` is the form a consumer uses, from decoded labels.
 *
 * Each stream format fixes its hash (docs/stream-format.md, "Routing"):
 *
 * - **format 3** (what the gateway writes): the label set as a sequence of 32-bit words —
 *   every string is its byte length, then its bytes four at a time, little-endian, the last
 *   word zero-padded — hashed in four lanes as xxHash32 does (word i feeds lane i mod 4),
 *   seeded by the tenant, the lanes folded and finalised with Murmur3's mixer. Four bytes a
 *   step, four independent multiply chains.
 * - **format 2**: FNV-1a (32-bit) over the bytes, each name followed by 0xff and each value
 *   by 0xfe, seeded by the tenant, finalised with Murmur3's mixer. One multiply per byte;
 *   kept to read format-2 records (the forwarder's stray filter).
 */

/** xxHash32's primes. */
export const P1 = 0x9e3779b1;
export const P2 = 0x85ebca77;
/** Each lane's rotation when the lanes are folded, lane 0 first (xxHash32's). */
const FOLD = [1, 7, 12, 18] as const;

const utf8 = new TextEncoder();

/** Murmur3's finaliser: spreads every input bit over all 32 bits of the slot. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One lane step: lane ← rotl(lane + w·P2, 13)·P1 (mod 2^32). */
export function laneStep(lane: number, w: number): number {
  // the primes as literals (int32), so that the optimiser sees constants
  const x = (lane + Math.imul(w, -2048144777)) | 0;
  return Math.imul((x << 13) | (x >>> 19), -1640531535);
}

/**
 * Folds the four lanes after `n` words into the slot. The lanes are passed rotated as the hot
 * path keeps them: `a` is the lane the next word would feed (lane n mod 4), then b, c, d.
 */
export function foldLanes(a: number, b: number, c: number, d: number, n: number): number {
  const r = n & 3;
  const h = foldRotl(a, r) + foldRotl(b, r + 1) + foldRotl(c, r + 2) + foldRotl(d, r + 3) + n;
  return fmix32(h | 0);
}

/** A lane rotated by its fold rotation. */
function foldRotl(x: number, lane: number): number {
  const k = FOLD[lane & 3]!;
  return (x << k) | (x >>> (32 - k));
}

/**
 * The format-3 hash as a stream of strings (the reference form; the scanners inline it):
 * `begin(seed)`, `bytes` per string, `finish()`.
 */
export class SlotHasher {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  private n = 0;

  begin(seed: number): this {
    this.a = (seed + P1 + P2) | 0;
    this.b = (seed + P2) | 0;
    this.c = seed | 0;
    this.d = (seed - P1) | 0;
    this.n = 0;
    return this;
  }

  private word(w: number): void {
    const t = laneStep(this.a, w);
    this.a = this.b;
    this.b = this.c;
    this.c = this.d;
    this.d = t;
    this.n++;
  }

  /** One string: its length, then its bytes four at a time (little-endian, the last zero-padded). */
  bytes(buf: Uint8Array, start = 0, end = buf.length): this {
    this.word(end - start);
    let k = start;
    for (; k + 4 <= end; k += 4)
      this.word(buf[k]! | (buf[k + 1]! << 8) | (buf[k + 2]! << 16) | (buf[k + 3]! << 24));
    if (k < end) {
      let w = 0;
      for (let s = 0; k < end; k++, s += 8) w |= buf[k]! << s;
      this.word(w);
    }
    return this;
  }

  finish(): number {
    return foldLanes(this.a, this.b, this.c, this.d, this.n);
  }
}

const hasher = new SlotHasher();

/** The hash seed for a tenant (format 3): 0 for none (or the empty name), else the hash of its name. */
export function tenantSeed(tenant: string | undefined): number {
  if (tenant === undefined || tenant === "") return 0;
  return hasher.begin(0).bytes(utf8.encode(tenant)).finish();
}

/** The slot of one string under a seed (format 3): where v1 metadata goes, by its metric family name. */
export function nameSlot(buf: Uint8Array, start: number, end: number, seed: number): number {
  return hasher.begin(seed).bytes(buf, start, end).finish();
}

/** The slot of a series given as label name → value, for `tenant` (undefined: none); stream format 3. */
export function seriesSlot(labels: Readonly<Record<string, string>>, tenant: string | undefined): number {
  hasher.begin(tenantSeed(tenant));
  for (const { name, value } of sortedLabels(labels)) hasher.bytes(name).bytes(value);
  return hasher.finish();
}

/** The slot function of a stream format (2 or 3); format 1 records carry no slots. */
export function seriesSlotOf(
  streamFormat: 2 | 3,
): (labels: Readonly<Record<string, string>>, tenant: string | undefined) => number {
  return streamFormat === 2 ? seriesSlotFormat2 : seriesSlot;
}

// --- stream format 2 -------------------------------------------------------------------------

export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a (32-bit) over buf[start, end), continuing from `h`. */
export function fnv1a(buf: Uint8Array, start: number, end: number, h: number): number {
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, FNV_PRIME);
  return h;
}

/** The format-2 seed: FNV-1a of the tenant's name over the FNV offset, the offset alone without one. */
export function tenantSeedFormat2(tenant: string | undefined): number {
  if (tenant === undefined) return FNV_OFFSET;
  const bytes = utf8.encode(tenant);
  return fnv1a(bytes, 0, bytes.length, FNV_OFFSET);
}

/** The slot of a series as stream format 2 routed it (FNV-1a). */
export function seriesSlotFormat2(
  labels: Readonly<Record<string, string>>,
  tenant: string | undefined,
): number {
  let h = tenantSeedFormat2(tenant);
  for (const { name, value } of sortedLabels(labels)) {
    h = fnv1a(name, 0, name.length, h);
    h = Math.imul(h ^ 0xff, FNV_PRIME);
    h = fnv1a(value, 0, value.length, h);
    h = Math.imul(h ^ 0xfe, FNV_PRIME);
  }
  return fmix32(h);
}

// ---------------------------------------------------------------------------------------------

/** The labels as UTF-8, in name order (bytewise, as Prometheus sorts them). */
function sortedLabels(labels: Readonly<Record<string, string>>): { name: Uint8Array; value: Uint8Array }[] {
  const out = Object.keys(labels).map((name) => ({
    name: utf8.encode(name),
    value: utf8.encode(labels[name]!),
  }));
  out.sort((a, b) => compare(a.name, b.name));
  return out;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
