/**
 * Preloaded into a process the benchmark measures (NODE_OPTIONS="--import <this file>"; plain
 * JavaScript, since it loads before the TypeScript loader): sums the process's
 * garbage-collection pauses (PerformanceObserver "gc" entries) and counts them by kind; on
 * SIGUSR2 it writes the totals as JSON, {"ms", "count", "minor", "major"}, to the file named
 * by GC_METER_FILE.
 */
import { writeFileSync } from "node:fs";
import { constants, PerformanceObserver } from "node:perf_hooks";

const file = process.env.GC_METER_FILE;
if (file) {
  const totals = { ms: 0, count: 0, minor: 0, major: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      totals.ms += entry.duration;
      totals.count++;
      const kind = entry.detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) totals.minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) totals.major++;
    }
  }).observe({ entryTypes: ["gc"] });
  process.on("SIGUSR2", () => writeFileSync(file, JSON.stringify(totals)));
}
