/**
 * Measuring helpers. The machine is shared and noisy, so every figure is a median over
 * several rounds, alternatives are interleaved round by round, and rates are per CPU
 * second of this process (user + system), which is what "per core" means here.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** CPU seconds this process has used so far. */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Runs `fn` repeatedly for about `ms` milliseconds of wall time (at least `minCalls`
 * times) and returns calls per CPU second.
 */
export function callsPerCpuSecond(fn: () => unknown, ms: number, minCalls = 5): number {
  const wallEnd = performance.now() + ms;
  const c0 = cpuSeconds();
  let calls = 0;
  while (calls < minCalls || performance.now() < wallEnd) {
    fn();
    calls++;
  }
  const cpu = cpuSeconds() - c0;
  return calls / Math.max(cpu, 1e-6);
}

/** Formats a number with a fixed count of significant digits, or a dash. */
export function fmt(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return "–";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 10 ** digits) return Math.round(value).toLocaleString("en-US");
  return Number(value.toPrecision(digits)).toLocaleString("en-US", { maximumFractionDigits: 6 });
}

/** A markdown table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
