import { appendFile } from "node:fs/promises";
import type { Logger } from "../core/log";
import type { DeadLetter, DeadLetterSink } from "./forward";

/** SQS's largest message body. */
export const SQS_MAX_MESSAGE_BYTES = 262_144;

/** The JSON body of a dead letter: where the record was, why it failed, and its data when it fits. */
export interface DeadLetterMessage {
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  readonly shardId: string;
  readonly streamArn?: string;
  /** The destination's answer; null when the record was never sent (undecodable). */
  readonly status: number | null;
  readonly reason: string;
  readonly detail: string;
  readonly dataBytes: number;
  /** The record's data (snappy), base64, when the message still fits the limit. */
  readonly data?: string;
  /** Otherwise where to read it: the shard and sequence number in the stream (until retention ends). */
  readonly pointer?: {
    readonly streamArn?: string;
    readonly shardId: string;
    readonly sequenceNumber: string;
  };
}

export function deadLetterMessage(
  letter: DeadLetter,
  opts: { streamArn?: string; maxBytes?: number } = {},
): string {
  const { record } = letter;
  const streamArn = record.streamArn ?? opts.streamArn;
  const base = {
    partitionKey: record.partitionKey,
    sequenceNumber: record.sequenceNumber,
    shardId: record.shardId,
    ...(streamArn ? { streamArn } : {}),
    status: letter.status ?? null,
    reason: letter.reason,
    detail: letter.detail.slice(0, 200),
    dataBytes: record.data.length,
  };
  const full = JSON.stringify({
    ...base,
    data: Buffer.from(record.data).toString("base64"),
  } satisfies DeadLetterMessage);
  if (Buffer.byteLength(full) <= (opts.maxBytes ?? SQS_MAX_MESSAGE_BYTES)) return full;
  const pointer = {
    ...(streamArn ? { streamArn } : {}),
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
  };
  return JSON.stringify({ ...base, pointer } satisfies DeadLetterMessage);
}

/** Local runs: dead letters appended to a JSON-lines file (one message per line), and logged. */
export class FileDeadLetters implements DeadLetterSink {
  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  async send(letter: DeadLetter): Promise<void> {
    await appendFile(this.file, `${deadLetterMessage(letter)}\n`);
    this.log.warn("dead letter written", { file: this.file, sequenceNumber: letter.record.sequenceNumber });
  }
}
