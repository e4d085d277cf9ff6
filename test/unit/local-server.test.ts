import { describe, expect, it } from "vitest";
import {
  LOCAL_SERVER_DEFAULTS,
  type LocalServerSettings,
  loadLocalServerSettings,
} from "../../functions/local/settings";
import { ENV } from "../../lib/core/env-names";

/** The local server's settings. */

const VARIABLES: Record<keyof LocalServerSettings, string> = {
  maxConnections: ENV.localMaxConnections,
  headersTimeoutMs: ENV.localHeadersTimeoutMs,
  requestTimeoutMs: ENV.localRequestTimeoutMs,
  minBodyBytesPerSecond: ENV.localMinBodyBytesPerSecond,
  bodyGraceMs: ENV.localBodyGraceMs,
};

describe("local server settings", () => {
  it("defaults, and each variable read", () => {
    expect(loadLocalServerSettings({})).toEqual(LOCAL_SERVER_DEFAULTS);
    for (const [field, variable] of Object.entries(VARIABLES)) {
      // the two timeouts around 777, so that either may take it (headers must not exceed request)
      const env = {
        [ENV.localHeadersTimeoutMs]: "700",
        [ENV.localRequestTimeoutMs]: "800",
        [variable]: "777",
      };
      expect(loadLocalServerSettings(env)[field as keyof LocalServerSettings]).toBe(777);
    }
    expect(loadLocalServerSettings({}, { maxConnections: 3 }).maxConnections).toBe(3);
  });

  it.each([
    [{ LOCAL_MAX_CONNECTIONS: "0" }, "LOCAL_MAX_CONNECTIONS"],
    [{ LOCAL_BODY_GRACE_MS: "soon" }, "LOCAL_BODY_GRACE_MS"],
    [{ LOCAL_HEADERS_TIMEOUT_MS: "20000", LOCAL_REQUEST_TIMEOUT_MS: "10000" }, "LOCAL_HEADERS_TIMEOUT_MS"],
  ])("refuses %j naming %s", (env, variable) => {
    expect(() => loadLocalServerSettings(env)).toThrow(new RegExp(`^${variable}:`));
  });
});
