/**
 * Counters the functions keep while they work. The adapters decide where they go: CloudWatch
 * Embedded Metric Format on AWS (lib/aws/emf-metrics.ts), memory in tests.
 */
export interface Metrics {
  /** Adds `value` to a counter, optionally split by one dimension (e.g. reason). */
  count(name: string, value?: number, dimension?: { name: string; value: string }): void;
  /** Writes what was counted since the last flush (one EMF document per dimension set). */
  flush(): void;
}

/** Counts in memory; tests read `totals`. */
export function createMemoryMetrics(): Metrics & { totals: Map<string, number> } {
  const totals = new Map<string, number>();
  return {
    totals,
    count(name, value = 1, dimension) {
      const key = dimension ? `${name}{${dimension.name}=${dimension.value}}` : name;
      totals.set(key, (totals.get(key) ?? 0) + value);
    },
    flush() {},
  };
}

/** Counts into each of `targets`; `flush` flushes them all. */
export function teeMetrics(...targets: Metrics[]): Metrics {
  return {
    count(name, value, dimension) {
      for (const target of targets) target.count(name, value, dimension);
    },
    flush() {
      for (const target of targets) target.flush();
    },
  };
}
