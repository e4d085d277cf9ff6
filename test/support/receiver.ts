import { type RunningPrometheus, startPrometheus } from "./prometheus";

/**
 * Prometheus's own remote-write receiver (`--web.enable-remote-write-receiver`, with
 * native histograms on so histogram series are appended too): the reference for what a
 * v1 WriteRequest body may contain. Prometheus 2.42 has no v2 receiver.
 */
export async function startReceiver(): Promise<RunningPrometheus> {
  return startPrometheus({
    configYaml: "global:\n  scrape_interval: 1h\n",
    extraFlags: ["--web.enable-remote-write-receiver", "--enable-feature=native-histograms"],
  });
}

export interface ReceiverAnswer {
  status: number;
  text: string;
  /** The receiver could not decode the body (snappy or protobuf), as opposed to refusing what it held. */
  undecodable: boolean;
}

/**
 * What Prometheus's receiver answers when it cannot decode a body: the error of its snappy
 * or protobuf (gogo prompb) decoder, as text in a 400 answer. Refusals after decoding
 * (out-of-order, out-of-bounds, duplicate samples, label rules) name what they refused.
 */
const DECODE_ERROR = /^(unexpected EOF|proto: |snappy: |EOF$)/;

export async function postToReceiver(
  prometheus: RunningPrometheus,
  body: Uint8Array,
): Promise<ReceiverAnswer> {
  const res = await fetch(`${prometheus.url}/api/v1/write`, {
    method: "POST",
    headers: {
      "content-type": "application/x-protobuf",
      "content-encoding": "snappy",
      "x-prometheus-remote-write-version": "0.1.0",
    },
    body,
  });
  const text = (await res.text()).trim();
  return { status: res.status, text, undecodable: res.status === 400 && DECODE_ERROR.test(text) };
}
