import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration and e2e suites start real servers (Kinesis, Prometheus); two cores, so keep it modest.
    maxWorkers: 2,
    reporters: ["default"],
    // the SDK's notice that its 2027 releases need Node 22 is noise in test output
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
