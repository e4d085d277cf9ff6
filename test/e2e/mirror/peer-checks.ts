import { expect } from "vitest";
import { MIRROR_PATHS } from "../../../lib/core/routes";
import { SCRAPE_MS } from "../../fixtures/mirror/data";
import { HOUR, type PeerRequestName, RANGE, selected } from "../../fixtures/mirror/peer";

/** What each adapted StackState request must answer, whatever the front, dialect or store. */

export function peerPath(name: PeerRequestName): string {
  const kind = name.split("/")[0];
  return kind === "FieldNamesRequest"
    ? MIRROR_PATHS.fieldName
    : kind === "FieldValuesRequest"
      ? MIRROR_PATHS.fieldValue
      : MIRROR_PATHS.metric;
}

const selectedValues = selected.samples.map(([, v]) => v);
// biome-ignore lint/suspicious/noExplicitAny: protocol JSON
export const CHECKS: Record<PeerRequestName, (body: any) => void> = {
  "FieldNamesRequest/empty-conditions": (body) => {
    expect(body._type).toBe("FieldNamesResponse");
    expect(body.isPartial).toBe(false);
    const names = body.fields.map((f: { fieldName: string }) => f.fieldName);
    expect(names.slice(0, 3)).toEqual(["__counter__", "__gauge__", "~"]);
    expect(names).toEqual(
      expect.arrayContaining(["boolean", "double", "inset", "job", "path", "string", "svc"]),
    );
  },
  "FieldNamesRequest/all-conditions": (body) => {
    expect(body).toMatchObject({ _type: "FieldNamesResponse", isPartial: false });
    // only the selected series matches all five conditions: its labels, nothing of the others
    expect(body.fields.map((f: { fieldName: string }) => f.fieldName)).toEqual([
      "__counter__",
      "__gauge__",
      "~",
      "boolean",
      "double",
      "inset",
      "job",
      "string",
    ]);
  },
  "FieldValuesRequest/conditions": (body) => {
    expect(body).toEqual({
      _type: "FieldValuesResponse",
      isPartial: false,
      values: [
        { _type: "CompleteValue", value: "stringValue1" },
        { _type: "CompleteValue", value: "stringValue2" },
      ],
    });
  },
  "MetricsRequest/aggregated.hourly-bucket": (body) => {
    const perHour = HOUR / SCRAPE_MS;
    expect(body).toEqual({
      _type: "MetricsResponse",
      telemetry: {
        _type: "AggregatedMetricTelemetry",
        dataFormat: ["value", "startTimestamp", "endTimestamp"],
        points: [
          [perHour, RANGE.startTime, RANGE.startTime + HOUR],
          [perHour, RANGE.startTime + HOUR, RANGE.startTime + 2 * HOUR],
        ],
        isPartial: false,
      },
    });
  },
  "MetricsRequest/raw.basic": (body) => {
    expect(body.telemetry).toMatchObject({ _type: "RawMetricTelemetry", isPartial: false });
    const points: Array<[number, number]> = body.telemetry.points;
    expect(points.length).toBeGreaterThan(900); // no limit given: the default 1000
    expect(points[0]).toEqual([1, RANGE.startTime]);
    for (const [v] of points) expect(selectedValues).toContain(v);
    for (let i = 1; i < points.length; i++) expect(points[i]![1]).toBeGreaterThan(points[i - 1]![1]);
  },
};
