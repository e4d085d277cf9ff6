import { z } from "zod";
import { badRequest, type MirrorError } from "./errors";

/**
 * Request schemas of the telemetry-mirror protocol. Unknown fields are tolerated (StackState
 * copies the datasource's connection details verbatim and may add fields); `_type` tags,
 * when present, must name the right object.
 */

const tag = <T extends string>(name: T) => z.literal(name).optional();

export const StringValueSchema = z.object({ _type: z.literal("StringValue"), value: z.string() });
export const DoubleValueSchema = z.object({ _type: z.literal("DoubleValue"), value: z.number() });
export const BooleanValueSchema = z.object({ _type: z.literal("BooleanValue"), value: z.boolean() });
export const ValueSchema = z.discriminatedUnion("_type", [
  StringValueSchema,
  DoubleValueSchema,
  BooleanValueSchema,
]);
export type ConditionValue = z.infer<typeof ValueSchema>;

export const ConditionSchema = z.looseObject({
  _type: tag("EqualityCondition"),
  key: z.string().min(1, "must not be empty"),
  value: ValueSchema,
});
export type Condition = z.infer<typeof ConditionSchema>;

const portSchema = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^\d{1,5}$/, "must be a port number")
      .transform(Number),
  ])
  .pipe(z.number().int().min(1).max(65535));

export const ConnectionDetailsSchema = z.looseObject({
  host: z.string().min(1, "must not be empty").max(253),
  port: portSchema,
  /** Milliseconds allowed for each call to Prometheus. */
  requestTimeout: z.number().int().min(1).max(600_000).optional(),
  scheme: z.enum(["http", "https"]).optional(),
  pathPrefix: z.string().max(200).optional(),
  nan_interpretation: z
    .string()
    .transform((s) => s.toUpperCase())
    .pipe(z.enum(["ZERO", "SKIP"], { message: 'expected "ZERO" or "SKIP"' }))
    .optional(),
});
export type ConnectionDetails = z.infer<typeof ConnectionDetailsSchema>;

const epochMillis = z.number().int().min(0).max(8_640_000_000_000);
const limitSchema = z.number().int().min(1).max(1_000_000);

export const FIELD_TYPES = ["STRING", "NUMBER", "DOUBLE", "BOOLEAN"] as const;
export const FieldDescriptorSchema = z.looseObject({
  _type: tag("FieldDescriptor"),
  fieldName: z.string().min(1, "must not be empty"),
  fieldType: z.enum(FIELD_TYPES).optional(),
  classified: z.boolean().optional(),
});

export const AGGREGATION_METHODS = [
  "MEAN",
  "MIN",
  "MAX",
  "SUM",
  "EVENT_COUNT",
  "PERCENTILE_25",
  "PERCENTILE_50",
  "PERCENTILE_75",
  "PERCENTILE_90",
  "PERCENTILE_95",
  "PERCENTILE_98",
  "PERCENTILE_99",
  "SUM_NO_ZEROS",
  "EVENT_COUNT_NO_ZEROS",
] as const;
export type AggregationMethod = (typeof AGGREGATION_METHODS)[number];

export const AggregationSchema = z.looseObject({
  _type: tag("Aggregation"),
  method: z.enum(AGGREGATION_METHODS),
  bucketSizeMillis: z
    .number()
    .int()
    .min(1)
    .max(366 * 24 * 3600 * 1000),
});

const timeRange = <T extends { startTime: number; endTime: number }>(q: T, ctx: z.RefinementCtx) => {
  if (q.endTime < q.startTime) {
    ctx.addIssue({ code: "custom", path: ["endTime"], message: "must not be before startTime" });
  }
};

export const TestConnectionRequestSchema = z.looseObject({
  _type: tag("TestConnectionRequest"),
  connectionDetails: ConnectionDetailsSchema,
});

export const FieldNamesRequestSchema = z.looseObject({
  _type: tag("FieldNamesRequest"),
  connectionDetails: ConnectionDetailsSchema,
  query: z
    .looseObject({
      _type: tag("FieldNamesQuery"),
      conditions: z.array(ConditionSchema).max(64).default([]),
      startTime: epochMillis,
      endTime: epochMillis,
      limit: limitSchema.default(100),
      latestFirst: z.boolean().optional(),
    })
    .superRefine(timeRange),
});
export type FieldNamesRequest = z.infer<typeof FieldNamesRequestSchema>;

export const FieldValuesRequestSchema = z.looseObject({
  _type: tag("FieldValuesRequest"),
  connectionDetails: ConnectionDetailsSchema,
  query: z
    .looseObject({
      _type: tag("FieldValuesQuery"),
      conditions: z.array(ConditionSchema).max(64).default([]),
      field: FieldDescriptorSchema,
      fieldValuePrefix: z.string().max(1000).optional(),
      startTime: epochMillis,
      endTime: epochMillis,
      limit: limitSchema.default(100),
      offset: z.number().int().min(0).default(0),
      latestFirst: z.boolean().optional(),
    })
    .superRefine(timeRange),
});
export type FieldValuesRequest = z.infer<typeof FieldValuesRequestSchema>;

export const MetricsRequestSchema = z.looseObject({
  _type: tag("MetricsRequest"),
  connectionDetails: ConnectionDetailsSchema,
  query: z
    .looseObject({
      _type: tag("MetricsQuery"),
      conditions: z.array(ConditionSchema).max(64),
      startTime: epochMillis,
      endTime: epochMillis,
      limit: limitSchema.default(1000),
      metricField: z.unknown().optional(),
      aggregation: AggregationSchema.optional().nullable(),
    })
    .superRefine(timeRange),
});
export type MetricsRequest = z.infer<typeof MetricsRequestSchema>;

/** Parses a request body against a schema; a mismatch is a 400 naming each problem's path. */
export function parseRequest<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw schemaError(result.error, what);
}

export function schemaError(error: z.ZodError, what: string): MirrorError {
  const problems = error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.length === 0 ? "(body)" : formatPath(issue.path);
    return `${path}: ${issue.message}`;
  });
  const more = error.issues.length > 5 ? ` (and ${error.issues.length - 5} more)` : "";
  return badRequest("request-invalid", `Malformed ${what}`, problems.join("; ") + more);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Response shapes (what the mirror sends). */
export type FieldDescriptor = {
  _type: "FieldDescriptor";
  fieldName: string;
  fieldType: "STRING";
  classified: false;
};
export type FieldValue = { _type: "CompleteValue"; value: string };
export type RawPoint = [value: number, timestamp: number];
export type AggregatedPoint = [value: number, startTimestamp: number, endTimestamp: number];
export type Telemetry =
  | {
      _type: "RawMetricTelemetry";
      dataFormat: ["value", "timestamp"];
      points: RawPoint[];
      isPartial: boolean;
    }
  | {
      _type: "AggregatedMetricTelemetry";
      dataFormat: ["value", "startTimestamp", "endTimestamp"];
      points: AggregatedPoint[];
      isPartial: boolean;
    };
