/**
 * Preloaded into a process the benchmark measures (NODE_OPTIONS="--import <this file>"; plain
 * JavaScript, since it loads before the TypeScript loader): sums the process's
 * garbage-collection pauses (PerformanceObserver "gc" entries) and, on SIGUSR2, writes the
 * totals as JSON, {"ms": …, "count": …}, to the file named by GC_METER_FILE.
 */
import { writeFileSync } from "node:fs";
import { PerformanceObserver } from "node:perf_hooks";

const file = process.env.GC_METER_FILE;
if (file) {
  let ms = 0;
  let count = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      ms += entry.duration;
      count++;
    }
  }).observe({ entryTypes: ["gc"] });
  process.on("SIGUSR2", () => writeFileSync(file, JSON.stringify({ ms, count })));
}
