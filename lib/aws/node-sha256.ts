import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import type { Checksum, SourceData } from "@smithy/types";

/**
 * SHA-256 and HMAC-SHA-256 for the AWS signing library, on node:crypto (OpenSSL) instead of
 * a hash written in JavaScript: the signer hashes every request body it signs.
 */
export class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = start(secret);
  }

  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }

  digest(): Promise<Uint8Array> {
    const out = this.hash.digest();
    return Promise.resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
  }

  reset(): void {
    this.hash = start(this.secret);
  }
}

function start(secret: SourceData | undefined): Hash | Hmac {
  return secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
}

function bytes(data: SourceData): Uint8Array | string {
  if (typeof data === "string") return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}
