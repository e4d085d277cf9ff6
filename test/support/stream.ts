import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { readAll } from "../../functions/local/stream";
import { type DecodedSeries, decodeRecord } from "../../lib/stream/consumer";

/** Every series in the stream, decoded, with the shard and partition key it came in. */
export async function streamContents(client: Pick<KinesisClient, "send">, streamName: string) {
  const items = await readAll(client, streamName);
  const series: (DecodedSeries & {
    shardId: string;
    partitionKey: string;
    /** The first slot of the record's group (stream format 2). */
    slot: number;
    tenant?: string;
  })[] = [];
  for (const { shardId, record } of items) {
    const decoded = decodeRecord(record.Data!, record.PartitionKey!);
    for (const s of decoded.series) {
      series.push({
        ...s,
        shardId,
        partitionKey: record.PartitionKey!,
        slot: decoded.key.slot!,
        tenant: decoded.key.tenant,
      });
    }
  }
  return { records: items, series };
}
