import type { IngestOutput } from "./ingest";
import {
  HEADER_EXEMPLARS_WRITTEN,
  HEADER_HISTOGRAMS_WRITTEN,
  HEADER_SAMPLES_WRITTEN,
  HEADER_VERSION,
  type ProtocolVersion,
  VERSION_ANSWER,
} from "./negotiate";
import type { Tally } from "./scan/tally";

/**
 * Response headers for a remote-write answer. For v2 the three *-Written headers are
 * always present; they count what was durably written (0 when the answer is an error
 * and nothing is confirmed).
 */
export function responseHeaders(
  version: ProtocolVersion | undefined,
  written?: Tally,
): Record<string, string> {
  if (version === undefined) return {};
  const headers: Record<string, string> = { [HEADER_VERSION]: VERSION_ANSWER[version] };
  if (version === "v2") {
    headers[HEADER_SAMPLES_WRITTEN] = String(written?.samples ?? 0);
    headers[HEADER_HISTOGRAMS_WRITTEN] = String(written?.histograms ?? 0);
    headers[HEADER_EXEMPLARS_WRITTEN] = String(written?.exemplars ?? 0);
  }
  return headers;
}

/** The one-line 400 answer when some series were invalid (the valid rest was written). */
export function rejectionMessage(out: IngestOutput): string {
  const reasons = [...out.rejected.byReason.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${reason}: ${n}`)
    .join(", ");
  const series = out.rejected.total - out.rejected.metadata;
  const refused =
    out.rejected.metadata === 0
      ? `rejected ${series} of ${series + out.written.series} series`
      : `rejected ${series} of ${series + out.written.series} series and ${out.rejected.metadata} metadata`;
  return (
    `${refused} (${reasons}); ` +
    `wrote ${out.written.series} series, ${out.written.samples} samples; do not resend the rejected series`
  );
}
