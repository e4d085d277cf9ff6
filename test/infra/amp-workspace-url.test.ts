import { describe, expect, it } from "vitest";
import { ampWorkspaceUrl } from "../../infra/constructs/mirror-api";

/** The allowlisted query URL of an AMP workspace: its region's partition gives the host suffix. */
describe("ampWorkspaceUrl", () => {
  it.each([
    ["eu-west-1", "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/"],
    ["cn-northwest-1", "https://aps-workspaces.cn-northwest-1.amazonaws.com.cn/workspaces/ws-1/"],
    ["us-gov-west-1", "https://aps-workspaces.us-gov-west-1.amazonaws.com/workspaces/ws-1/"],
    ["us-iso-east-1", "https://aps-workspaces.us-iso-east-1.c2s.ic.gov/workspaces/ws-1/"],
    ["eusc-de-east-1", "https://aps-workspaces.eusc-de-east-1.amazonaws.eu/workspaces/ws-1/"],
  ])("in %s: %s", (region, url) => {
    expect(ampWorkspaceUrl({ id: "ws-1", region })).toBe(url);
  });
});
