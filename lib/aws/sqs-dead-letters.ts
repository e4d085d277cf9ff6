import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { deadLetterMessage } from "../forwarder/dead-letter";
import type { DeadLetter, DeadLetterSink } from "../forwarder/forward";

/** Dead letters sent to an SQS queue (the forwarder's on-failure destination). */
export class SqsDeadLetters implements DeadLetterSink {
  constructor(
    private readonly client: Pick<SQSClient, "send">,
    private readonly queueUrl: string,
    private readonly streamArn?: string,
  ) {}

  async send(letter: DeadLetter): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: deadLetterMessage(letter, this.streamArn ? { streamArn: this.streamArn } : {}),
      }),
    );
  }
}
