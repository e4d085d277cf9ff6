import { echo } from "../errors";
import { badRequest, targetNotAllowed } from "./errors";
import type { ConnectionDetails } from "./protocol";

/**
 * Which Prometheus servers the mirror may call (MIRROR_ALLOWED_TARGETS), and the base URL
 * built from the connection details. Both checks happen before any outbound connection.
 */

/** One `host:port` entry; `*` in the host matches any run of characters, a port `*` any port. */
export interface TargetPattern {
  readonly source: string;
  readonly host: RegExp;
  readonly port: number | "*";
}

const HOST_PATTERN = /^[A-Za-z0-9*._-]+$|^\[[0-9A-Fa-f:.*]+\]$/;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$/;
const IPV6 = /^\[?[0-9A-Fa-f:.]+\]?$/;
const PATH_PREFIX = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*\/?$/;

/** Parses a comma-separated list of `host:port` patterns; errors name the variable. */
export function parseTargetPatterns(variable: string, raw: string): TargetPattern[] {
  const entries = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (entries.length === 0) {
    throw new Error(`${variable}: empty; list host:port patterns, or leave it unset to allow any target`);
  }
  return entries.map((entry, index) => {
    if (entry === "*") return { source: entry, host: /^.*$/, port: "*" };
    const colon = entry.lastIndexOf(":");
    const host = colon < 0 ? "" : entry.slice(0, colon);
    const port = colon < 0 ? "" : entry.slice(colon + 1);
    const fail = (why: string) =>
      new Error(`${variable}: entry ${index + 1} ("${echo(entry, 60)}") ${why}; expected host:port`);
    if (host === "" || !HOST_PATTERN.test(host)) throw fail("has an invalid host");
    let parsedPort: number | "*";
    if (port === "*") parsedPort = "*";
    else if (/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535) parsedPort = Number(port);
    else throw fail("has an invalid port");
    const normal = normalizeHost(host);
    const re = new RegExp(`^${normal.split("*").map(escapeRegExp).join(".*")}$`);
    return { source: entry, host: re, port: parsedPort };
  });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Lower case, brackets and a trailing dot removed: `Prom.Example.` and `prom.example` are one host. */
export function normalizeHost(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "");
}

export function isAllowed(patterns: readonly TargetPattern[], host: string, port: number): boolean {
  const h = normalizeHost(host);
  return patterns.some((p) => (p.port === "*" || p.port === port) && p.host.test(h));
}

export interface PrometheusTarget {
  /** `http://host:port/prefix` without a trailing slash. */
  readonly baseUrl: string;
  /** `host:port`, for messages. */
  readonly display: string;
}

/**
 * Validates the connection details' host, port, scheme and path prefix, checks the allowlist
 * (`allowed` undefined = any target) and builds the base URL.
 */
export function resolveTarget(
  details: ConnectionDetails,
  allowed: readonly TargetPattern[] | undefined,
): PrometheusTarget {
  const host = details.host.trim();
  const isV6 = host.includes(":");
  if (isV6 ? !IPV6.test(host) : !HOSTNAME.test(host)) {
    throw badRequest(
      "host-invalid",
      "Invalid connection details",
      `connectionDetails.host: "${echo(host, 100)}" is not a host name or IP address`,
    );
  }
  const urlHost = isV6 ? `[${normalizeHost(host)}]` : host;
  // a name the pattern accepts can still be no URL host (e.g. "127.0.Q.1", a broken IPv4)
  if (!URL.canParse(`http://${urlHost}:${details.port}/`)) {
    throw badRequest(
      "host-invalid",
      "Invalid connection details",
      `connectionDetails.host: "${echo(host, 100)}" is not a host name or IP address`,
    );
  }
  const display = `${urlHost}:${details.port}`;
  if (allowed !== undefined && !isAllowed(allowed, host, details.port)) throw targetNotAllowed(display);
  const prefix = details.pathPrefix ?? "";
  if (prefix !== "" && !PATH_PREFIX.test(prefix)) {
    throw badRequest(
      "path-prefix-invalid",
      "Invalid connection details",
      `connectionDetails.pathPrefix: "${echo(prefix, 100)}" must be a path starting with "/"`,
    );
  }
  const scheme = details.scheme ?? "http";
  return { baseUrl: `${scheme}://${display}${prefix.replace(/\/$/, "")}`, display };
}
