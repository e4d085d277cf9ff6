/**
 * The routing hash of a series (stream format 2): FNV-1a (32-bit) over its labels in name
 * order, each name followed by the byte 0xff and each value by 0xfe, seeded by the tenant
 * (FNV-1a of its name over the FNV offset, or the offset alone without a tenant), finalised
 * with Murmur3's mixer. The result is the series' slot (lib/stream/shard-map.ts): it fixes
 * the series' hash key, hence its shard lineage. The ingest scanners compute the same value
 * over the request's bytes (lib/ingest/scan/labels.ts); this is the form a consumer uses.
 */

export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a (32-bit) over buf[start, end), continuing from `h`. */
export function fnv1a(buf: Uint8Array, start: number, end: number, h: number): number {
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, FNV_PRIME);
  return h;
}

/** Murmur3's finaliser: spreads FNV's low-bit bias over all 32 bits. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const utf8 = new TextEncoder();

/** The hash seed for a tenant, so tenants' equal series spread independently. */
export function tenantSeed(tenant: string | undefined): number {
  if (tenant === undefined) return FNV_OFFSET;
  const bytes = utf8.encode(tenant);
  return fnv1a(bytes, 0, bytes.length, FNV_OFFSET);
}

/** The slot of a series given as label name → value, for `tenant` (undefined: none). */
export function seriesSlot(labels: Readonly<Record<string, string>>, tenant: string | undefined): number {
  const names = Object.keys(labels).map((name) => ({ name, bytes: utf8.encode(name) }));
  names.sort((a, b) => compare(a.bytes, b.bytes));
  let h = tenantSeed(tenant);
  for (const { name, bytes } of names) {
    h = fnv1a(bytes, 0, bytes.length, h);
    h = Math.imul(h ^ 0xff, FNV_PRIME);
    const value = utf8.encode(labels[name]!);
    h = fnv1a(value, 0, value.length, h);
    h = Math.imul(h ^ 0xfe, FNV_PRIME);
  }
  return fmix32(h);
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
