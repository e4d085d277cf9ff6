import { ConfigError, docRow, type Setting } from "../lib/core/config";
import {
  FORWARDER_KEYS,
  type ForwarderSettings,
  forwarderSettings,
  MAX_FORWARDED_RECORD_KIB,
} from "./context/forwarder";
import { HA_KEYS, type HaDedupSettings, haDedupSettings } from "./context/ha";
import { INGEST_KEYS, type IngestSettings, ingestSettings } from "./context/ingest";
import { MIRROR_KEYS, type MirrorSettings, mirrorSettings } from "./context/mirror";
import { type CreatedVpc, type ImportedVpc, NETWORK_KEYS } from "./context/network";
import { OBSERVABILITY_KEYS, type Observability, observability } from "./context/observability";
import { contextError, givenIn, readContext } from "./context/read";
import {
  COMPONENTS,
  type Component,
  components,
  STACK_KEYS,
  type StackPart,
  stackPart,
} from "./context/stack";
import { STREAM_KEYS, type StreamSettings, streamSettings } from "./context/stream";

/**
 * The deployment's configuration: one typed, frozen object parsed from CDK context
 * (`cdk.json` or `-c key=value`), composed of one schema per part (infra/context/). Settings the
 * stack hands to a function are declared once in lib/ and shared with the function's own
 * reader. Every error names its key.
 */

export type { ForwarderSettings } from "./context/forwarder";
export type { HaDedupSettings } from "./context/ha";
export type { AmpWorkspace, MirrorErrorStatus } from "./context/mirror";
export type { CreatedVpc, ImportedVpc } from "./context/network";
export type { Component, Encryption } from "./context/stack";
export { ConfigError, contextError };

export interface GatewayConfig extends StackPart {
  /** Only with the ingest component. */
  readonly stream?: StreamSettings;
  /** Only with the ingest component. */
  readonly ingest?: IngestSettings;
  /** HA-pair deduplication at ingest; absent: off (`haDedup=false`, or no ingest component). */
  readonly ha?: HaDedupSettings;
  /** Only with the mirror component. */
  readonly mirror?: MirrorSettings;
  /** A VPC to create, or the ids of an existing one (never looked up); only with the mirror in a VPC. */
  readonly vpc?: CreatedVpc | ImportedVpc;
  /** The optional forwarder from the stream to a remote_write endpoint (absent: none; needs ingest). */
  readonly forwarder?: ForwarderSettings;
  readonly observability: Observability;
}

/** Every context key: its schema, default and docs row (the table in docs/deploy.md), in the table's order. */
export const CONFIG_KEYS = {
  ...STACK_KEYS,
  ...STREAM_KEYS,
  ...INGEST_KEYS,
  ...HA_KEYS,
  ...MIRROR_KEYS,
  ...NETWORK_KEYS,
  ...OBSERVABILITY_KEYS,
  ...FORWARDER_KEYS,
} as const;

export type ConfigKey = keyof typeof CONFIG_KEYS;

/** One context key: its default, its meaning, and the bounds its value is checked against. */
export type ConfigKeyEntry = Setting<unknown>;

/** The configuration table of docs/deploy.md, as the schemas give it. */
export function configTable(): string {
  const rows = Object.entries(CONFIG_KEYS).map(([key, s]) => docRow(key, s as ConfigKeyEntry));
  return ["| Key | Default | Meaning |", "|---|---|---|", ...rows].join("\n");
}

/** Keys that belong to one component: setting one for a component not deployed is a mistake. */
const COMPONENT_KEYS: Readonly<Record<Component, readonly string[]>> = {
  // the forwarder reads the ingest stream
  ingest: [
    ...Object.keys(STREAM_KEYS),
    ...Object.keys(INGEST_KEYS),
    ...Object.keys(HA_KEYS),
    ...Object.keys(FORWARDER_KEYS),
  ],
  mirror: [...Object.keys(MIRROR_KEYS), ...Object.keys(NETWORK_KEYS)],
};

/** Parses CDK context into the configuration; throws ConfigError naming the first bad key. */
export function parseConfig(context: Readonly<Record<string, unknown>>): GatewayConfig {
  for (const key of Object.keys(context)) {
    // Our keys are camelCase; CDK's own (feature flags, `aws:cdk:*`, `cli-telemetry`) never are.
    if (/^[a-z][A-Za-z0-9]*$/.test(key) && !(key in CONFIG_KEYS)) {
      throw contextError(key, `unknown key (known keys: ${Object.keys(CONFIG_KEYS).join(", ")})`);
    }
  }
  const given = givenIn(context);
  const deployed = components(readContext({ components: STACK_KEYS.components }, context));
  for (const component of COMPONENTS) {
    if (deployed.includes(component)) continue;
    const key = COMPONENT_KEYS[component].find(given);
    if (key !== undefined) {
      throw contextError(
        key,
        `applies only when components include ${component} (components=${deployed.join(",")})`,
      );
    }
  }
  const v = readContext(CONFIG_KEYS, context);
  const withIngest = deployed.includes("ingest");
  const stream = withIngest ? streamSettings(v, given) : undefined;
  const ingest = withIngest ? ingestSettings(v) : undefined;
  const ha = withIngest ? haDedupSettings(v, given) : undefined;
  const mirrorPart = deployed.includes("mirror") ? mirrorSettings(v, given) : undefined;
  const stack = stackPart(v);
  const forwarder = withIngest ? forwarderSettings(v, given) : undefined;
  if (forwarder !== undefined && (stream?.maxRecordKiB ?? 0) > MAX_FORWARDED_RECORD_KIB) {
    throw contextError(
      "streamMaxRecordKiB",
      `at most ${MAX_FORWARDED_RECORD_KIB} with the forwarder: its Lambda events carry records base64-encoded within 6 MB`,
    );
  }
  return deepFreeze({
    ...stack,
    stream,
    ingest,
    ha,
    mirror: mirrorPart?.mirror,
    vpc: mirrorPart?.vpc,
    forwarder,
    observability: observability(v),
  });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
