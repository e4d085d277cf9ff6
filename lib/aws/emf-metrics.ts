import type { Metrics } from "../core/metrics";

/**
 * Metrics in CloudWatch Embedded Metric Format: one JSON log line per flush, which
 * CloudWatch turns into metrics without any API call from the function.
 */
export function createEmfMetrics(
  namespace: string,
  service: string,
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  now: () => number = Date.now,
): Metrics {
  // key: "" for undimensioned counters, else `${dimName}\u0000${dimValue}`
  let pending = new Map<string, Map<string, number>>();
  return {
    count(name, value = 1, dimension) {
      if (value === 0) return;
      const key = dimension ? `${dimension.name}\u0000${dimension.value}` : "";
      let group = pending.get(key);
      if (!group) {
        group = new Map();
        pending.set(key, group);
      }
      group.set(name, (group.get(name) ?? 0) + value);
    },
    flush() {
      const groups = pending;
      pending = new Map();
      for (const [key, values] of groups) {
        const dims: Record<string, string> = { Service: service };
        if (key !== "") {
          const [dimName, dimValue] = key.split("\u0000") as [string, string];
          dims[dimName] = dimValue;
        }
        const doc: Record<string, unknown> = {
          _aws: {
            Timestamp: now(),
            CloudWatchMetrics: [
              {
                Namespace: namespace,
                Dimensions: [Object.keys(dims)],
                Metrics: [...values.keys()].map((Name) => ({ Name, Unit: "Count" })),
              },
            ],
          },
          ...dims,
        };
        for (const [metric, total] of values) doc[metric] = total;
        write(JSON.stringify(doc));
      }
    },
  };
}

/**
 * Wraps a Lambda entry so the metrics an invocation counted are written (as EMF) when it
 * ends, whether it succeeded or threw.
 */
export function flushingHandler<E, C, R>(serve: (event: E, context: C) => Promise<R>, metrics: Metrics) {
  return async (event: E, context: C): Promise<R> => {
    try {
      return await serve(event, context);
    } finally {
      metrics.flush();
    }
  };
}
