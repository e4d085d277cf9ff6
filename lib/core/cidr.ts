import { ConfigError } from "./config";

/** An IPv4 range: the network address and prefix length, as 32-bit numbers. */
export interface Cidr4 {
  readonly text: string;
  readonly network: number;
  readonly prefix: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

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

/** Parses `a.b.c.d/n`; a ConfigError naming `variable` otherwise. */
export function parseCidr4(variable: string, text: string): Cidr4 {
  const [address = "", bits, extra] = text.trim().split("/");
  const network = ipv4ToNumber(address);
  const prefix = bits !== undefined && /^\d{1,2}$/.test(bits) ? Number(bits) : Number.NaN;
  if (network === undefined || extra !== undefined || !(prefix >= 0 && prefix <= 32)) {
    throw new ConfigError(
      `${variable}: not an IPv4 CIDR like 203.0.113.0/24: "${text.trim().slice(0, 60)}"`,
      variable,
    );
  }
  return { text: text.trim(), network: (network & mask(prefix)) >>> 0, prefix };
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
