import { KinesisClient } from "@aws-sdk/client-kinesis";
import { afterAll, describe, expect, it } from "vitest";
import { KINESIS_SERVICE, SECRETS_MANAGER_SERVICE, serviceEndpoint } from "../../../lib/aws/aws-json";
import { AWS_PARTITIONS, awsPartition } from "../../../lib/core/aws-partitions";
import { ConfigError, type Env } from "../../../lib/core/config";

/**
 * The regional endpoints of the lean AWS JSON client: every partition, the FIPS and
 * dual-stack variants as the SDK's environment variables select them, and the per-service
 * departures of the SDK's endpoint rules. The Kinesis cases are also held to the Kinesis
 * client's own endpoint resolver.
 */

const SERVICES = { kinesis: KINESIS_SERVICE, secretsmanager: SECRETS_MANAGER_SERVICE };
const FIPS: Env = { AWS_USE_FIPS_ENDPOINT: "true" };
const DUAL: Env = { AWS_USE_DUALSTACK_ENDPOINT: "true" };
const BOTH: Env = { ...FIPS, ...DUAL };

describe("serviceEndpoint", () => {
  it.each<[keyof typeof SERVICES, string, Env, string]>([
    // standard endpoints, one region per partition
    ["kinesis", "us-east-1", {}, "https://kinesis.us-east-1.amazonaws.com"],
    ["secretsmanager", "eu-west-1", {}, "https://secretsmanager.eu-west-1.amazonaws.com"],
    ["kinesis", "cn-north-1", {}, "https://kinesis.cn-north-1.amazonaws.com.cn"],
    ["kinesis", "us-gov-west-1", {}, "https://kinesis.us-gov-west-1.amazonaws.com"],
    ["kinesis", "us-iso-east-1", {}, "https://kinesis.us-iso-east-1.c2s.ic.gov"],
    ["kinesis", "us-isob-east-1", {}, "https://kinesis.us-isob-east-1.sc2s.sgov.gov"],
    ["kinesis", "eu-isoe-west-1", {}, "https://kinesis.eu-isoe-west-1.cloud.adc-e.uk"],
    ["kinesis", "us-isof-south-1", {}, "https://kinesis.us-isof-south-1.csp.hci.ic.gov"],
    ["secretsmanager", "eusc-de-east-1", {}, "https://secretsmanager.eusc-de-east-1.amazonaws.eu"],
    // FIPS
    ["kinesis", "us-east-1", FIPS, "https://kinesis-fips.us-east-1.amazonaws.com"],
    ["secretsmanager", "us-east-1", FIPS, "https://secretsmanager-fips.us-east-1.amazonaws.com"],
    ["kinesis", "cn-north-1", FIPS, "https://kinesis-fips.cn-north-1.amazonaws.com.cn"],
    ["kinesis", "us-gov-west-1", FIPS, "https://kinesis.us-gov-west-1.amazonaws.com"], // GovCloud: standard is FIPS
    ["secretsmanager", "us-gov-west-1", FIPS, "https://secretsmanager-fips.us-gov-west-1.amazonaws.com"],
    ["kinesis", "us-iso-east-1", FIPS, "https://kinesis-fips.us-iso-east-1.c2s.ic.gov"],
    // dual-stack
    ["kinesis", "us-east-1", DUAL, "https://kinesis.us-east-1.api.aws"],
    ["kinesis", "cn-north-1", DUAL, "https://kinesis.cn-north-1.api.amazonwebservices.com.cn"],
    ["kinesis", "us-gov-east-1", DUAL, "https://kinesis.us-gov-east-1.api.aws"],
    ["kinesis", "us-isob-east-1", DUAL, "https://kinesis.us-isob-east-1.api.aws.scloud"],
    ["kinesis", "eusc-de-east-1", DUAL, "https://kinesis.eusc-de-east-1.api.amazonwebservices.eu"],
    ["secretsmanager", "us-east-1", DUAL, "https://secretsmanager.us-east-1.amazonaws.com"],
    ["secretsmanager", "cn-north-1", DUAL, "https://secretsmanager.cn-north-1.amazonaws.com.cn"],
    ["secretsmanager", "us-iso-east-1", DUAL, "https://secretsmanager.us-iso-east-1.api.aws.ic.gov"],
    // both
    ["kinesis", "us-east-1", BOTH, "https://kinesis-fips.us-east-1.api.aws"],
    ["kinesis", "us-gov-west-1", BOTH, "https://kinesis-fips.us-gov-west-1.api.aws"],
    ["secretsmanager", "us-east-1", BOTH, "https://secretsmanager-fips.us-east-1.amazonaws.com"],
    ["secretsmanager", "us-gov-west-1", BOTH, "https://secretsmanager-fips.us-gov-west-1.amazonaws.com"],
    [
      "secretsmanager",
      "cn-north-1",
      BOTH,
      "https://secretsmanager-fips.cn-north-1.api.amazonwebservices.com.cn",
    ],
    [
      "secretsmanager",
      "eu-isoe-west-1",
      BOTH,
      "https://secretsmanager-fips.eu-isoe-west-1.api.cloud-aws.adc-e.uk",
    ],
    // "false" and empty are off, as unset
    [
      "kinesis",
      "us-east-1",
      { AWS_USE_FIPS_ENDPOINT: "false", AWS_USE_DUALSTACK_ENDPOINT: "" },
      "https://kinesis.us-east-1.amazonaws.com",
    ],
    // a configured endpoint wins over the variants, as before
    ["kinesis", "us-east-1", { AWS_ENDPOINT_URL_KINESIS: "http://127.0.0.1:1" }, "http://127.0.0.1:1"],
    [
      "kinesis",
      "us-east-1",
      { ...BOTH, AWS_ENDPOINT_URL_KINESIS: "http://127.0.0.1:1" },
      "http://127.0.0.1:1",
    ],
    [
      "secretsmanager",
      "us-east-1",
      { AWS_ENDPOINT_URL_KINESIS: "http://127.0.0.1:1", AWS_ENDPOINT_URL: "http://127.0.0.1:2" },
      "http://127.0.0.1:2",
    ],
    [
      "kinesis",
      "us-east-1",
      { AWS_ENDPOINT_URL_KINESIS: "http://127.0.0.1:1", AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" },
      "https://kinesis.us-east-1.amazonaws.com",
    ],
    [
      "kinesis",
      "us-east-1",
      { ...FIPS, AWS_ENDPOINT_URL: "http://127.0.0.1:2", AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" },
      "https://kinesis-fips.us-east-1.amazonaws.com",
    ],
  ])("%s in %s with %o → %s", (service, region, env, want) => {
    expect(serviceEndpoint(SERVICES[service], region, env)).toBe(want);
  });

  it("refuses a region that cannot be one", () => {
    expect(() => serviceEndpoint(KINESIS_SERVICE, "us-east-1.evil.example/x", {})).toThrow(
      /not an AWS region/,
    );
  });

  it.each([
    ["AWS_USE_FIPS_ENDPOINT", "yes"],
    ["AWS_USE_DUALSTACK_ENDPOINT", "TRUE"],
  ])("%s=%s is refused as the SDK refuses it, naming the variable", (name, value) => {
    const call = () => serviceEndpoint(KINESIS_SERVICE, "us-east-1", { [name]: value });
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(new RegExp(`^${name}: expected "true" or "false"`));
  });
});

describe("the same endpoints as the Kinesis client's own resolver", () => {
  const sdk = new KinesisClient({
    region: "us-east-1",
    credentials: { accessKeyId: "a", secretAccessKey: "b" },
  });
  afterAll(() => sdk.destroy());
  const regions = [
    "us-east-1",
    "eu-central-2",
    "ap-southeast-7",
    "il-central-1",
    "mx-central-1",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-west-1",
    "us-gov-east-1",
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "eu-isoe-west-1",
    "us-isof-south-1",
    "us-isof-east-1",
    "eusc-de-east-1",
    "zz-nowhere-9", // no partition knows it: aws, as the SDK decides
  ];
  const variants: [boolean, boolean][] = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ];
  it.each(regions.flatMap((region) => variants.map(([fips, dual]) => [region, fips, dual] as const)))(
    "%s, FIPS %s, dual-stack %s",
    (region, fips, dual) => {
      const want = sdk.config.endpointProvider({ Region: region, UseFIPS: fips, UseDualStack: dual });
      const env: Env = { AWS_USE_FIPS_ENDPOINT: String(fips), AWS_USE_DUALSTACK_ENDPOINT: String(dual) };
      expect(serviceEndpoint(KINESIS_SERVICE, region, env)).toBe(want.url.origin);
    },
  );
});

describe("the partition table", () => {
  it.each([
    ["us-east-1", "aws"],
    ["cn-northwest-1", "aws-cn"],
    ["us-gov-east-1", "aws-us-gov"],
    ["us-iso-west-1", "aws-iso"],
    ["us-isob-east-1", "aws-iso-b"],
    ["eu-isoe-west-1", "aws-iso-e"],
    ["us-isof-south-1", "aws-iso-f"],
    ["eusc-de-east-1", "aws-eusc"],
    ["aws-cn-global", "aws-cn"],
    ["zz-nowhere-9", "aws"],
  ])("%s is in %s", (region, id) => {
    expect(awsPartition(region).id).toBe(id);
  });

  it("has one entry per partition, each region pattern matching none of another's regions", () => {
    const ids = AWS_PARTITIONS.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const region of ["us-east-1", "cn-north-1", "us-gov-west-1", "us-iso-east-1", "us-isob-east-1"]) {
      expect(AWS_PARTITIONS.filter((p) => p.regions.test(region))).toHaveLength(1);
    }
  });
});
