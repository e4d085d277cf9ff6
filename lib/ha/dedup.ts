import type { ProtocolVersion } from "../stream/records";
import type { HaSettings } from "./config";
import type { ReplicaTracker } from "./tracker";
import { HaRequestWire } from "./wire";

/**
 * HA-pair deduplication as the remote-write endpoint runs it: the tracker that elects a
 * replica per tenant and cluster, and the passes over a decoded request that read its
 * cluster and replica and take the replica label out (wire.ts). One per endpoint; like the
 * Ingestor, its passes are synchronous and reuse its buffers.
 */
export class HaDedup {
  readonly wire: HaRequestWire;
  readonly replicaLabel: string;
  readonly clusterLabel: string;

  constructor(
    settings: Pick<HaSettings, "clusterLabel" | "replicaLabel">,
    readonly tracker: ReplicaTracker,
  ) {
    this.clusterLabel = settings.clusterLabel;
    this.replicaLabel = settings.replicaLabel;
    this.wire = new HaRequestWire(settings.clusterLabel, settings.replicaLabel);
  }

  /** The replica label taken out of every series of `decoded`, in place: the bytes to scan. */
  readonly strip = (decoded: Uint8Array, version: ProtocolVersion): Uint8Array =>
    decoded.subarray(0, this.wire.strip(decoded, version));
}
