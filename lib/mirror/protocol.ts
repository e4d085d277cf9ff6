import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import { badRequest, type MirrorError } from "./errors";

/**
 * Request schemas of the telemetry-mirror protocol. Unknown fields are tolerated (StackState
 * copies the datasource's connection details verbatim and may add fields); `_type` tags,
 * when present, must name the right object.
 *
 * zod's tree-shakable "mini" build keeps the mirror's Lambda bundle small (the full build
 * alone is over 400 KB minified); English messages come from its locale.
 */
z.config(en());

const tag = <T extends string>(name: T) => z.optional(z.literal(name));
const nonEmpty = () => z.string().check(z.minLength(1, "must not be empty"));
const intIn = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));

export const StringValueSchema = z.object({ _type: z.literal("StringValue"), value: z.string() });
export const DoubleValueSchema = z.object({ _type: z.literal("DoubleValue"), value: z.number() });
export const BooleanValueSchema = z.object({ _type: z.literal("BooleanValue"), value: z.boolean() });
/** "The label is one of these": an empty set matches nothing. */
export const InSetValueSchema = z.object({
  _type: z.literal("InSetValue"),
  value: z.array(z.string()).check(z.maxLength(1000)),
});

/**
 * A condition value without `_type` (or a bare JSON value) takes its type from its JSON type:
 * string → StringValue, number → DoubleValue, boolean → BooleanValue, array → InSetValue.
 */
function inferValueType(input: unknown): unknown {
  const wrap = (value: unknown) => {
    if (typeof value === "string") return { _type: "StringValue", value };
    if (typeof value === "number") return { _type: "DoubleValue", value };
    if (typeof value === "boolean") return { _type: "BooleanValue", value };
    if (Array.isArray(value)) return { _type: "InSetValue", value };
    return undefined;
  };
  if (input !== null && typeof input === "object" && !Array.isArray(input)) {
    const obj = input as Record<string, unknown>;
    if (obj._type !== undefined) return obj;
    return wrap(obj.value) ?? obj;
  }
  return wrap(input) ?? input;
}

export const ValueSchema = z.pipe(
  z.transform(inferValueType),
  z.discriminatedUnion("_type", [StringValueSchema, DoubleValueSchema, BooleanValueSchema, InSetValueSchema]),
);
export type ConditionValue = z.infer<typeof ValueSchema>;

export const ConditionSchema = z.looseObject({
  _type: tag("EqualityCondition"),
  key: nonEmpty(),
  value: ValueSchema,
});
export type Condition = z.infer<typeof ConditionSchema>;

const portSchema = z.pipe(
  z.union([
    z.number(),
    z.pipe(z.string().check(z.regex(/^\d{1,5}$/, "must be a port number")), z.transform(Number)),
  ]),
  intIn(1, 65535),
);

/** A positive number (seconds or milliseconds); the mirror caps it at its own maximum. */
const positive = () => z.number().check(z.positive());

/** `ZERO` answers NaN points as 0; `NONE` (or its alias `SKIP`) leaves them out. */
export const NAN_INTERPRETATIONS = ["ZERO", "NONE", "SKIP"] as const;
const nanSchema = z.pipe(
  z.pipe(
    z.string(),
    z.transform((s) => s.toUpperCase()),
  ),
  z.enum(NAN_INTERPRETATIONS, { error: 'expected "ZERO", "NONE" or "SKIP"' }),
);

const optionalText = (max: number) => z.optional(z.nullable(z.string().check(z.maxLength(max))));

/**
 * The `aws` block of the url dialect: how calls to an Amazon Managed Prometheus workspace
 * are signed. Every field is optional; see lib/aws/credentials.ts for the order credentials are taken in.
 */
export const AwsDetailsSchema = z.looseObject({
  role_arn: optionalText(2048),
  external_id: optionalText(1224),
  aws_access_key_id: optionalText(128),
  aws_secret_access_key: optionalText(128),
  aws_session_token: optionalText(4096),
  token_expiry_seconds: z.optional(z.nullable(positive())),
  region_name: z.optional(
    z.nullable(
      z.string().check(z.regex(/^[a-z]{2}(-[a-z0-9]+)+-\d+$/, "must be an AWS region such as eu-west-1")),
    ),
  ),
  role_session_name: z.optional(
    z.nullable(z.string().check(z.regex(/^[\w+=,.@-]{2,64}$/, "must be 2-64 characters of [\\w+=,.@-]"))),
  ),
});
export type AwsDetails = z.infer<typeof AwsDetailsSchema>;

/**
 * Connection details in either dialect StackState datasources use:
 * - `host`, `port`, `requestTimeout` (ms), optional `scheme` and `pathPrefix`;
 * - `url` (a base URL that may carry a path), `request_timeout_seconds`, `nan_interpretation`
 *   and an optional `aws` block for Amazon Managed Prometheus.
 * When both are given, `url` wins.
 */
export const ConnectionDetailsSchema = z
  .looseObject({
    host: z.optional(nonEmpty().check(z.maxLength(253))),
    port: z.optional(portSchema),
    /** Milliseconds allowed for each call to Prometheus. */
    requestTimeout: z.optional(positive()),
    scheme: z.optional(z.enum(["http", "https"])),
    pathPrefix: z.optional(z.string().check(z.maxLength(200))),
    url: z.optional(nonEmpty().check(z.maxLength(2048))),
    request_timeout_seconds: z.optional(positive()),
    nan_interpretation: z.optional(nanSchema),
    aws: z.optional(z.nullable(AwsDetailsSchema)),
  })
  .check(
    z.superRefine((d, ctx) => {
      if (d.url !== undefined) return;
      for (const field of ["host", "port"] as const) {
        if (d[field] === undefined) {
          ctx.addIssue({
            code: "custom",
            path: [field],
            message: "required (or give url)",
            input: d,
          });
        }
      }
    }),
  );
export type ConnectionDetails = z.infer<typeof ConnectionDetailsSchema>;

const epochMillis = intIn(0, 8_640_000_000_000);
/** Any count a client sends (Java's Int.MaxValue means "no limit"); the mirror caps it itself. */
const countSchema = z.int().check(z.minimum(0));

export const FIELD_TYPES = ["STRING", "NUMBER", "DOUBLE", "BOOLEAN"] as const;
export const FieldDescriptorSchema = z.looseObject({
  _type: tag("FieldDescriptor"),
  fieldName: nonEmpty(),
  fieldType: z.optional(z.enum(FIELD_TYPES)),
  classified: z.optional(z.boolean()),
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
  bucketSizeMillis: intIn(1, 366 * 24 * 3600 * 1000),
});

const timeRange = z.superRefine((q: { startTime: number; endTime: number }, ctx) => {
  if (q.endTime < q.startTime) {
    ctx.addIssue({ code: "custom", path: ["endTime"], message: "must not be before startTime", input: q });
  }
});

const conditions = () => z.array(ConditionSchema).check(z.maxLength(64));

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
      conditions: z._default(conditions(), []),
      startTime: epochMillis,
      endTime: epochMillis,
      limit: z._default(countSchema, 100),
      latestFirst: z.optional(z.nullable(z.boolean())),
      lastFirst: z.optional(z.nullable(z.boolean())),
    })
    .check(timeRange),
});
export type FieldNamesRequest = z.infer<typeof FieldNamesRequestSchema>;

export const FieldValuesRequestSchema = z.looseObject({
  _type: tag("FieldValuesRequest"),
  connectionDetails: ConnectionDetailsSchema,
  query: z
    .looseObject({
      _type: tag("FieldValuesQuery"),
      conditions: z._default(conditions(), []),
      field: FieldDescriptorSchema,
      fieldValuePrefix: z.optional(z.nullable(z.string().check(z.maxLength(1000)))),
      startTime: epochMillis,
      endTime: epochMillis,
      limit: z._default(countSchema, 100),
      offset: z._default(countSchema, 0),
      latestFirst: z.optional(z.nullable(z.boolean())),
      lastFirst: z.optional(z.nullable(z.boolean())),
    })
    .check(timeRange),
});
export type FieldValuesRequest = z.infer<typeof FieldValuesRequestSchema>;

export const MetricsRequestSchema = z.looseObject({
  _type: tag("MetricsRequest"),
  connectionDetails: ConnectionDetailsSchema,
  query: z
    .looseObject({
      _type: tag("MetricsQuery"),
      conditions: conditions(),
      startTime: epochMillis,
      endTime: epochMillis,
      limit: z._default(countSchema, 1000),
      metricField: z.optional(z.unknown()),
      aggregation: z.optional(z.nullable(AggregationSchema)),
    })
    .check(timeRange),
});
export type MetricsRequest = z.infer<typeof MetricsRequestSchema>;

/** Parses a request body against a schema; a mismatch is a 400 naming each problem's path. */
export function parseRequest<S extends z.ZodMiniType>(schema: S, body: unknown, what: string): z.output<S> {
  const result = z.safeParse(schema, body);
  if (result.success) return result.data;
  throw schemaError(result.error, what);
}

export function schemaError(error: z.core.$ZodError, what: string): MirrorError {
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
export type FieldValue = { _type: "CompleteValue" | "FieldValuePattern"; value: string };
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
