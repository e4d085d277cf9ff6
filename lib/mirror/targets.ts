import { ConfigError } from "../core/config";
import { echo } from "../core/errors";
import { HOST_PATTERN, IPV6_HOST, LENIENT_HOST, URL_PATH } from "../core/patterns";
import { badRequest, targetNotAllowed } from "./errors";
import { escapeRegex } from "./promql";
import type { ConnectionDetails } from "./protocol";

/**
 * Which Prometheus servers the mirror may call (MIRROR_ALLOWED_TARGETS), and the base URL
 * built from the connection details. Both checks happen before any outbound connection.
 */

/**
 * One allowlist entry: `host:port` (`*` in the host matches any run of characters, a port `*`
 * any port; any scheme and path), or a URL prefix `https://host[:port]/path/` that allows
 * exactly that scheme, host and port and any path under that prefix, segment by segment.
 */
export type TargetPattern =
  | { readonly kind: "host"; readonly source: string; readonly host: RegExp; readonly port: number | "*" }
  | {
      readonly kind: "url";
      readonly source: string;
      readonly scheme: "http" | "https";
      readonly host: string;
      readonly port: number;
      /** Ends with "/". */
      readonly path: string;
    };

const DEFAULT_PORT = { http: 80, https: 443 } as const;

/** Parses a comma-separated list of `host:port` patterns and URL prefixes; errors name the variable. */
export function parseTargetPatterns(variable: string, raw: string): TargetPattern[] {
  const entries = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (entries.length === 0) {
    throw new ConfigError(
      `${variable}: empty; list host:port patterns, or leave it unset to allow any target`,
    );
  }
  return entries.map((entry, index): TargetPattern => {
    const fail = (why: string) =>
      new ConfigError(
        `${variable}: entry ${index + 1} ("${echo(entry, 60)}") ${why}; expected host:port or https://host[:port]/path/`,
      );
    if (entry.includes("://")) {
      let url: ParsedUrl;
      try {
        url = parseBaseUrl(entry);
      } catch (err) {
        throw fail((err as Error).message);
      }
      if (url.host.includes("*")) throw fail("has a wildcard in a URL prefix");
      return {
        kind: "url",
        source: entry,
        scheme: url.scheme,
        host: normalizeHost(url.host),
        port: url.port,
        path: `${url.path}/`,
      };
    }
    if (entry === "*") return { kind: "host", source: entry, host: /^.*$/, port: "*" };
    const colon = entry.lastIndexOf(":");
    const host = colon < 0 ? "" : entry.slice(0, colon);
    const port = colon < 0 ? "" : entry.slice(colon + 1);
    if (host === "" || !HOST_PATTERN.test(host)) throw fail("has an invalid host");
    let parsedPort: number | "*";
    if (port === "*") parsedPort = "*";
    else if (/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535) parsedPort = Number(port);
    else throw fail("has an invalid port");
    const normal = normalizeHost(host);
    const re = new RegExp(`^${normal.split("*").map(escapeRegex).join(".*")}$`);
    return { kind: "host", source: entry, host: re, port: parsedPort };
  });
}

/** Lower case, brackets and a trailing dot removed: `Prom.Example.` and `prom.example` are one host. */
export function normalizeHost(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "");
}

/** Whether a host:port is allowed by a `host:port` entry (URL-prefix entries need a scheme and path). */
export function isAllowed(patterns: readonly TargetPattern[], host: string, port: number): boolean {
  const h = normalizeHost(host);
  return patterns.some((p) => p.kind === "host" && (p.port === "*" || p.port === port) && p.host.test(h));
}

/** Whether a whole target (scheme, host, port, path) is allowed by any entry. */
export function isTargetAllowed(patterns: readonly TargetPattern[], target: PrometheusTarget): boolean {
  const h = normalizeHost(target.host);
  const path = `${target.path}/`;
  return patterns.some((p) =>
    p.kind === "host"
      ? (p.port === "*" || p.port === target.port) && p.host.test(h)
      : p.scheme === target.scheme && p.host === h && p.port === target.port && path.startsWith(p.path),
  );
}

export interface PrometheusTarget {
  /** `http://host:port/prefix` without a trailing slash. */
  readonly baseUrl: string;
  /** `host:port` (and the path, if any), for messages. */
  readonly display: string;
  readonly scheme: "http" | "https";
  /** As in a URL: lower case, IPv6 in brackets. */
  readonly host: string;
  readonly port: number;
  /** The base path without a trailing slash ("" for the root). */
  readonly path: string;
}

interface ParsedUrl {
  readonly scheme: "http" | "https";
  readonly host: string;
  readonly port: number;
  readonly path: string;
}

/**
 * Parses a base URL strictly: http or https only, no userinfo, no query or fragment, and a
 * path without `.`/`..` segments, encoded dots, slashes or backslashes (so what is checked
 * against the allowlist is what is called). Throws an Error saying what is wrong.
 */
function parseBaseUrl(raw: string): ParsedUrl {
  const text = raw.trim();
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (scheme !== "http" && scheme !== "https") throw new Error("must be an http or https URL");
  if (/[\\\s]/.test(text)) throw new Error("must not contain backslashes or spaces");
  const afterScheme = text.slice(scheme.length + 3);
  const authority = /^[^/?#]*/.exec(afterScheme)![0];
  if (authority.includes("@")) throw new Error("must not carry a user name or password");
  const rest = afterScheme.slice(authority.length);
  if (/[?#]/.test(rest)) throw new Error("must not carry a query or fragment");
  if (/%(2e|2f|5c|25)/i.test(rest)) throw new Error("must not carry encoded dots, slashes or percent signs");
  if (rest.split("/").some((seg) => seg === "." || seg === "..")) {
    throw new Error('must not carry "." or ".." path segments');
  }
  if (!URL.canParse(text)) throw new Error("is not a valid URL");
  const url = new URL(text);
  if (url.hostname === "") throw new Error("has no host");
  const port = url.port === "" ? DEFAULT_PORT[scheme] : Number(url.port);
  return { scheme, host: url.hostname, port, path: url.pathname.replace(/\/+$/, "") };
}

function invalidDetails(code: string, field: string, detail: string) {
  return badRequest(code, "Invalid connection details", `connectionDetails.${field}: ${detail}`);
}

/**
 * Validates the connection details (`url`, or host, port, scheme and path prefix), checks the
 * allowlist (`allowed` undefined = any target) and builds the base URL.
 */
export function resolveTarget(
  details: ConnectionDetails,
  allowed: readonly TargetPattern[] | undefined,
): PrometheusTarget {
  const target = details.url !== undefined ? fromUrl(details.url) : fromHostPort(details);
  if (allowed !== undefined && !isTargetAllowed(allowed, target)) throw targetNotAllowed(target.display);
  return target;
}

function fromUrl(raw: string): PrometheusTarget {
  let url: ParsedUrl;
  try {
    url = parseBaseUrl(raw);
  } catch (err) {
    throw invalidDetails("url-invalid", "url", `"${echo(raw, 120)}" ${(err as Error).message}`);
  }
  const origin = `${url.scheme}://${url.host}:${url.port}`;
  return { ...url, baseUrl: `${origin}${url.path}`, display: `${origin}${url.path}/` };
}

function fromHostPort(details: ConnectionDetails): PrometheusTarget {
  const host = (details.host ?? "").trim();
  const port = details.port ?? 0;
  const isV6 = host.includes(":");
  if (isV6 ? !IPV6_HOST.test(host) : !LENIENT_HOST.test(host)) {
    throw invalidDetails("host-invalid", "host", `"${echo(host, 100)}" is not a host name or IP address`);
  }
  const urlHost = isV6 ? `[${normalizeHost(host)}]` : host;
  // a name the pattern accepts can still be no URL host (e.g. "127.0.Q.1", a broken IPv4)
  if (!URL.canParse(`http://${urlHost}:${port}/`)) {
    throw invalidDetails("host-invalid", "host", `"${echo(host, 100)}" is not a host name or IP address`);
  }
  const display = `${urlHost}:${port}`;
  const prefix = details.pathPrefix ?? "";
  if (prefix !== "" && (!URL_PATH.test(prefix) || prefix.split("/").some((s) => s === "." || s === ".."))) {
    throw invalidDetails(
      "path-prefix-invalid",
      "pathPrefix",
      `"${echo(prefix, 100)}" must be a path starting with "/"`,
    );
  }
  const scheme = details.scheme ?? "http";
  const path = prefix.replace(/\/+$/, "");
  return {
    baseUrl: `${scheme}://${display}${path}`,
    display,
    scheme,
    host: new URL(`http://${urlHost}/`).hostname,
    port,
    path,
  };
}
