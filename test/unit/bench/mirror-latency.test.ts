import { describe, expect, it } from "vitest";
import { addedMs, mirrorTable } from "../../../bench/mirror-latency";

describe("the bench's mirror latency table", () => {
  it("gives the mirror's added time per pair, never a difference of two independent tails", () => {
    // the mirror adds 2 ms to every call; the direct calls' tail is one slow outlier
    const directMs = Array.from({ length: 100 }, (_, i) => (i === 50 ? 80 : 10));
    const mirrorMs = directMs.map((d, i) => (i === 50 ? 12 : d + 2));
    const row = { request: "gauge", prometheusCalls: 2, directMs, mirrorMs };
    // the difference of the p99s would be 12 - 80: negative
    expect(Math.min(...addedMs(row).filter((_, i) => i !== 50))).toBe(2);
    const line = mirrorTable([row]).split("\n")[2]!;
    expect(line.split("|")[5]!.trim()).toBe("2 / 2");
  });
});
