import { describe, expect, it } from "vitest";
import { MirrorError } from "../../../lib/mirror/errors";
import { parseTargetPatterns, resolveTarget } from "../../../lib/mirror/targets";

/** URL-prefix allowlist entries and `url` connection details: what is allowed, and every trick refused. */

const WS = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/";
const patterns = parseTargetPatterns(
  "MIRROR_ALLOWED_TARGETS",
  `prom.internal:9090, ${WS}, http://[::1]:9090/prom/`,
);

function outcome(url: string): number {
  try {
    resolveTarget({ url }, patterns);
    return 200;
  } catch (err) {
    expect(err).toBeInstanceOf(MirrorError);
    return (err as MirrorError).status;
  }
}

describe("URL-prefix allowlist entries", () => {
  it("parses scheme, host, default port and a prefix ending with a slash", () => {
    const [, ws, v6] = patterns;
    expect(ws).toMatchObject({
      kind: "url",
      scheme: "https",
      host: "aps-workspaces.eu-west-1.amazonaws.com",
      port: 443,
      path: "/workspaces/ws-1234/",
    });
    expect(v6).toMatchObject({ kind: "url", scheme: "http", host: "::1", port: 9090, path: "/prom/" });
    expect(parseTargetPatterns("V", "https://h.example/a")[0]).toMatchObject({ path: "/a/" });
  });

  it.each([
    ["ftp://h.example/", "http or https"],
    ["https://user@h.example/", "user name"],
    ["https://h.example/a?x=1", "query"],
    ["https://h.example/a/../b/", '".."'],
    ["https://h.example/a%2fb/", "encoded"],
    ["https://*.example/", "wildcard"],
    ["https://h.example:99999/", "valid URL"],
  ])("refuses %s naming the variable", (entry, says) => {
    expect(() => parseTargetPatterns("MIRROR_ALLOWED_TARGETS", entry)).toThrow("MIRROR_ALLOWED_TARGETS");
    expect(() => parseTargetPatterns("MIRROR_ALLOWED_TARGETS", entry)).toThrow(says);
  });
});

describe("url targets against the allowlist", () => {
  it.each([
    [WS, 200],
    [WS.slice(0, -1), 200], // without the trailing slash
    ["https://aps-workspaces.eu-west-1.amazonaws.com:443/workspaces/ws-1234/", 200],
    ["HTTPS://APS-WORKSPACES.EU-WEST-1.AMAZONAWS.COM/workspaces/ws-1234/", 200],
    ["https://aps-workspaces.eu-west-1.amazonaws.com./workspaces/ws-1234/", 200], // trailing dot
    ["https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/sub/", 200],
    ["http://prom.internal:9090/", 200],
    ["https://prom.internal:9090/any/path/", 200], // host:port entries allow any scheme and path
    ["http://[::1]:9090/prom/", 200],
    ["http://[0:0:0:0:0:0:0:1]:9090/prom", 200], // the same address spelt out
    // other workspaces, paths, ports, schemes, hosts
    ["https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-12345/", 403],
    ["https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/", 403],
    ["https://aps-workspaces.eu-west-1.amazonaws.com/", 403],
    ["https://aps-workspaces.eu-west-1.amazonaws.com:8443/workspaces/ws-1234/", 403],
    ["http://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/", 403],
    ["https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234/", 403],
    ["https://evil.example/workspaces/ws-1234/", 403],
    ["http://[::1]:9090/other/", 403],
    ["http://[::2]:9090/prom/", 403],
    ["http://prom.internal:9091/", 403],
    // userinfo in either place
    ["https://aps-workspaces.eu-west-1.amazonaws.com@evil.example/workspaces/ws-1234/", 400],
    ["https://evil@aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/", 400],
    ["https://:pw@aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/", 400],
    ["https://@aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/", 400],
    // path escapes
    ["https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/../other/", 400],
    ["https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/./", 400],
    ["https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/%2e%2e/other/", 400],
    ["https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/%2E./x/", 400],
    ["https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234%2F..%2Fother/", 400],
    ["https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/%252e%252e/", 400],
    ["https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234\\..\\other/", 400],
    ["https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/?x=1", 400],
    ["https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234/#f", 400],
    // other schemes and non-URLs
    ["file:///etc/passwd", 400],
    ["gopher://prom.internal:9090/", 400],
    ["javascript:alert(1)", 400],
    ["prom.internal:9090", 400],
    ["//prom.internal:9090/", 400],
    ["http://", 400],
  ])("%s → %i", (url, status) => {
    expect(outcome(url)).toBe(status);
  });

  it("calls the normalised URL it checked", () => {
    const t = resolveTarget(
      { url: "HTTPS://APS-WORKSPACES.EU-WEST-1.AMAZONAWS.COM/workspaces/ws-1234/" },
      patterns,
    );
    expect(t.baseUrl).toBe("https://aps-workspaces.eu-west-1.amazonaws.com:443/workspaces/ws-1234");
    expect(t.path).toBe("/workspaces/ws-1234");
  });

  it("applies URL-prefix entries to host/port details as well", () => {
    const only = parseTargetPatterns("V", "http://prom.example:9090/prom/");
    expect(resolveTarget({ host: "prom.example", port: 9090, pathPrefix: "/prom" }, only).baseUrl).toBe(
      "http://prom.example:9090/prom",
    );
    expect(() => resolveTarget({ host: "prom.example", port: 9090 }, only)).toThrow(MirrorError);
    expect(() => resolveTarget({ host: "prom.example", port: 9090, pathPrefix: "/prom/../x" }, only)).toThrow(
      MirrorError,
    );
  });

  it("host/port entries compare normalised IPv4 spellings", () => {
    const local = parseTargetPatterns("V", "127.0.0.1:9090");
    expect(resolveTarget({ url: "http://2130706433:9090/" }, local).host).toBe("127.0.0.1");
  });
});
