import { describe, expect, it } from "vitest";
import { compress } from "../../../lib/codec/snappy";
import { Ingestor } from "../../../lib/ingest/ingest";
import { decodeRecord, readRecord, UndecodableRecordError } from "../../../lib/stream/consumer";
import { sealRecord } from "../../../lib/stream/records";
import { ShardMap } from "../../../lib/stream/shard-map";
import { ingestSettings, realisticSeries, snappy, v1Message, v2Message } from "../../fixtures/remote-write";

/**
 * The stream reader: a record it cannot decode is reported with its partition key (as a
 * value, by readRecord; as UndecodableRecordError, by decodeRecord), never as an HTTP error.
 */
const ingestor = new Ingestor(ingestSettings({ streamShards: 1 }));
const good = ingestor.prepare(snappy(v1Message(realisticSeries(3, 2))), "v1", undefined).records[0]!;
const goodV2 = ingestor.prepare(snappy(v2Message(realisticSeries(3, 2))), "v2", "acme").records[0]!;
/** A record body sealed as the gateway seals one, with these bytes inside. */
const sealed = (body: number[], version: "v1" | "v2" = "v1") =>
  sealRecord(Uint8Array.from(body), version, undefined, 0, ShardMap.uniform(1));

const poison: [string, Uint8Array, string][] = [
  ["not snappy", Uint8Array.from([0x10, 0xf0, 0xff, 0x00, 0x01]), good.partitionKey],
  ["truncated protobuf", sealed([0x0a, 0x20, 0x0a, 0x05]).data, good.partitionKey],
  // a histogram whose bucket span is cut short: what the ingest checks now refuse to write
  [
    "histogram with a broken span",
    sealed([0x0a, 0x0a, 0x22, 0x08, 0x5a, 0x06, 0x08, 0x02, 0x10, 0xff, 0xff, 0xff]).data,
    good.partitionKey,
  ],
  [
    "v2 symbol reference out of range",
    sealed([0x22, 0x00, 0x2a, 0x04, 0x0a, 0x02, 0x07, 0x00], "v2").data,
    goodV2.partitionKey.replace(/:acme:/, "::"),
  ],
  ["not a gateway partition key", good.data, "some-other-producer-42"],
];

describe("stream reader", () => {
  it("decodes the gateway's records, v1 and v2", () => {
    const v1 = readRecord(good.data, good.partitionKey);
    expect(v1.ok && v1.record.series.length).toBe(3);
    const v2 = readRecord(goodV2.data, goodV2.partitionKey);
    expect(v2.ok && v2.record.key.tenant).toBe("acme");
    expect(v2.ok && v2.record.series.flatMap((s) => s.samples).length).toBe(6);
  });

  it.each(poison)("%s: reported with its partition key, not thrown", (_name, data, key) => {
    const read = readRecord(data, key);
    expect(read.ok).toBe(false);
    if (read.ok) return;
    expect(read.error).toBeInstanceOf(UndecodableRecordError);
    expect(read.error.partitionKey).toBe(key);
    expect(read.error.message).toContain(key);
    expect(read.error.reason.length).toBeGreaterThan(0);
    expect(() => decodeRecord(data, key)).toThrow(UndecodableRecordError);
  });

  it("goes on after a bad record: the ones around it still decode", () => {
    const batch = [
      good,
      { data: compress(Uint8Array.from([0x0a, 0x7f])), partitionKey: good.partitionKey },
      goodV2,
    ];
    const results = batch.map((r) => readRecord(r.data, r.partitionKey));
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
  });
});
