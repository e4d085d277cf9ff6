import * as z from "zod/mini";
import { ConfigError, clip, list, type Setting, text } from "./config";
import { IPV4 } from "./patterns";

/** An IPv4 range: the network address and prefix length, as 32-bit numbers. */
export interface Cidr4 {
  readonly text: string;
  readonly network: number;
  readonly prefix: number;
}

/** An IPv4 address as an unsigned 32-bit number; undefined for anything else (IPv6, names, junk). */
export function ipv4ToNumber(address: string): number | undefined {
  const m = IPV4.exec(address.trim());
  if (m === null) return undefined;
  let n = 0;
  for (const octet of m.slice(1, 5)) {
    const v = Number(octet);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `a.b.c.d/n` as a range; undefined for anything else. */
export function toCidr4(text: string): Cidr4 | undefined {
  const [address = "", bits, extra] = text.trim().split("/");
  const network = ipv4ToNumber(address);
  const prefix = bits !== undefined && /^\d{1,2}$/.test(bits) ? Number(bits) : Number.NaN;
  if (network === undefined || extra !== undefined || !(prefix >= 0 && prefix <= 32)) return undefined;
  return { text: text.trim(), network: (network & mask(prefix)) >>> 0, prefix };
}

/** Parses `a.b.c.d/n`; a ConfigError naming `variable` otherwise. */
export function parseCidr4(variable: string, text: string): Cidr4 {
  const cidr = toCidr4(text);
  if (cidr === undefined) {
    throw new ConfigError(
      `${variable}: not an IPv4 CIDR like 203.0.113.0/24: "${text.trim().slice(0, 60)}"`,
      variable,
    );
  }
  return cidr;
}

/** A comma-separated list of CIDRs (empty entries ignored). */
export function parseCidrList(variable: string, text: string): Cidr4[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => parseCidr4(variable, s));
}

/** Whether `address` (IPv4) lies in one of `ranges`; an address that is not IPv4 lies in none. */
export function inRanges(address: string | undefined, ranges: readonly Cidr4[]): boolean {
  if (address === undefined) return false;
  const n = ipv4ToNumber(address);
  if (n === undefined) return false;
  return ranges.some((r) => (n & mask(r.prefix)) >>> 0 === r.network);
}

/** One IPv4 CIDR of a list setting. */
const CIDR4_ITEM = z.string().check(
  z.refine<string>((s) => toCidr4(s) !== undefined, {
    error: (i) => `not an IPv4 CIDR like 203.0.113.0/24: "${clip(String(i.input))}"`,
  }),
);

/** A comma-separated list of IPv4 CIDRs, each checked; `unique`: none listed twice. */
export function cidrList(o: {
  doc: string;
  unique?: boolean;
  blankIsSet?: boolean;
}): Setting<string[], string> {
  return list({
    doc: o.doc,
    item: CIDR4_ITEM,
    ...(o.unique ? { unique: "a CIDR is listed twice" } : {}),
    ...(o.blankIsSet ? { blankIsSet: true } : {}),
  });
}

/** One IPv4 CIDR; `prefixRange`: the prefix lengths allowed (`why` says why). */
export function cidr4<const D extends string | undefined>(o: {
  default: D;
  doc: string;
  prefixRange?: readonly [number, number];
  why?: string;
}): Setting<string, D> {
  const { prefixRange } = o;
  const problem = (value: string) => {
    const cidr = toCidr4(value);
    if (cidr === undefined) return `not an IPv4 CIDR like 203.0.113.0/24: "${clip(value)}"`;
    if (prefixRange !== undefined && (cidr.prefix < prefixRange[0] || cidr.prefix > prefixRange[1])) {
      return `prefix must be /${prefixRange[0]} to /${prefixRange[1]}${o.why ? ` (${o.why})` : ""}`;
    }
    return undefined;
  };
  return { ...text({ default: o.default, doc: o.doc, problem }), ...(prefixRange ? { prefixRange } : {}) };
}
